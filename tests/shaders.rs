//! The committed SPIR-V in shaders/spv/ is what shaders/build.sh makes from the GLSL sources.

use std::path::Path;
use std::process::Command;

#[test]
fn committed_spirv_matches_the_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    assert!(
        Path::new("/usr/bin/glslangValidator").exists(),
        "glslangValidator is missing: install Debian's glslang-tools (scripts/install-deps)"
    );
    let out = std::env::temp_dir().join(format!("weft-spv-{}", std::process::id()));
    let status = Command::new(root.join("build.sh"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "shaders/build.sh failed");
    let mut checked = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let entry = entry.unwrap();
        let fresh = std::fs::read(entry.path()).unwrap();
        let committed_path = root.join("spv").join(entry.file_name());
        let committed = std::fs::read(&committed_path).unwrap_or_else(|_| {
            panic!(
                "{} is not committed: run shaders/build.sh",
                committed_path.display()
            )
        });
        assert!(
            fresh == committed,
            "{} is stale: run shaders/build.sh and commit",
            committed_path.display()
        );
        checked += 1;
    }
    assert!(checked >= 2, "no shaders were built");
    let _ = std::fs::remove_dir_all(out);
}
