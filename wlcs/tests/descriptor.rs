//! The extensions the shim tells WLCS about are exactly the globals weft advertises, at the same
//! versions: WLCS skips the tests of protocols missing from the list and runs (and fails) those on
//! it, so a stale list would hide tests or fail them for the wrong reason.

use std::collections::BTreeMap;

use weft::{private_runtime_dir, HeadlessOptions, Running, ServerOptions};
use weft_clients::Client;

#[test]
fn the_descriptor_lists_every_global_weft_advertises_at_its_version() {
    let runtime_dir = private_runtime_dir("wlcs-descriptor").expect("runtime dir");
    let weft = Running::start(HeadlessOptions {
        server: ServerOptions {
            runtime_dir: Some(runtime_dir.clone()),
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("weft starts");
    let client = Client::connect(&weft.wayland_path()).expect("client connects");
    let advertised: BTreeMap<String, u32> = client
        .globals
        .contents()
        .clone_list()
        .into_iter()
        .map(|g| (g.interface, g.version))
        .collect();
    let described: BTreeMap<String, u32> = weft_wlcs::supported_extensions().into_iter().collect();
    drop(client);
    weft.stop().expect("weft stops cleanly");
    let _ = std::fs::remove_dir_all(runtime_dir);
    assert_eq!(described, advertised);
}
