//! The V4L2 uAPI structures and constants weft's device probe and its test producers share
//! (`include/uapi/linux/videodev2.h`, 64-bit layout; sizes asserted).

/// `V4L2_CAP_*` (device capabilities).
pub const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
pub const CAP_VIDEO_CAPTURE_MPLANE: u32 = 0x0000_1000;
pub const CAP_VIDEO_M2M_MPLANE: u32 = 0x0000_4000;
pub const CAP_VIDEO_M2M: u32 = 0x0000_8000;
pub const CAP_STREAMING: u32 = 0x0400_0000;
pub const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
/// `V4L2_BUF_TYPE_*`.
pub const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
pub const BUF_TYPE_VIDEO_CAPTURE_MPLANE: u32 = 9;
/// `V4L2_MEMORY_MMAP`.
pub const MEMORY_MMAP: u32 = 1;
/// `V4L2_BUF_CAP_SUPPORTS_*` (from `VIDIOC_REQBUFS`).
pub const BUF_CAP_SUPPORTS_MMAP: u32 = 1 << 0;
pub const BUF_CAP_SUPPORTS_DMABUF: u32 = 1 << 2;

/// `struct v4l2_capability`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Capability {
    pub driver: [u8; 16],
    pub card: [u8; 32],
    pub bus_info: [u8; 32],
    pub version: u32,
    pub capabilities: u32,
    pub device_caps: u32,
    pub reserved: [u32; 3],
}

impl Capability {
    /// The node's own capabilities (`device_caps` when the driver reports them).
    pub fn node_caps(&self) -> u32 {
        if self.capabilities & CAP_DEVICE_CAPS != 0 {
            self.device_caps
        } else {
            self.capabilities
        }
    }

    /// The driver's name.
    pub fn driver(&self) -> String {
        let end = self
            .driver
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.driver.len());
        String::from_utf8_lossy(self.driver.get(..end).unwrap_or_default()).into_owned()
    }
}

/// `struct v4l2_requestbuffers`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestBuffers {
    pub count: u32,
    pub type_: u32,
    pub memory: u32,
    pub capabilities: u32,
    pub flags: u8,
    pub reserved: [u8; 3],
}

const _: () = assert!(std::mem::size_of::<Capability>() == 104);
const _: () = assert!(std::mem::size_of::<RequestBuffers>() == 20);
