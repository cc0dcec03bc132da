//! What can go wrong talking to a KMS device, as data; turned into text only where it becomes a
//! log line or a surface's reason.

/// An atomic-KMS failure.
#[derive(Debug, thiserror::Error)]
pub enum DrmError {
    /// DRM_IOCTL_MODE_OBJ_GETPROPERTIES on an object failed.
    #[error("properties: {0}")]
    Properties(#[source] std::io::Error),
    /// DRM_IOCTL_MODE_GETPROPERTY failed.
    #[error("property {id}: {source}")]
    Property { id: u32, source: std::io::Error },
    /// A plane lacks a property atomic flips set.
    #[error("the plane has no {0} property")]
    MissingProperty(&'static str),
    /// The driver refused the layers (atomic TEST_ONLY).
    #[error("atomic TEST_ONLY: {0}")]
    TestOnly(#[source] std::io::Error),
    /// The flip was not queued.
    #[error("atomic page flip: {0}")]
    Flip(#[source] std::io::Error),
    /// The dumb buffer could not be exported (PRIME) for the render device.
    #[error("PRIME export of the dumb buffer: {0}")]
    PrimeExport(#[source] std::io::Error),
    /// The render device does not import the display device's buffer.
    #[error(transparent)]
    Destination(#[from] weft_compositor::outputs::DestinationError),
}

/// Why an output's frame was not queued.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    #[error("output {0} is not weft's")]
    OutputGone(String),
    #[error("no back buffer")]
    NoBackBuffer,
    #[error("copying the frame into the display buffer: {0}")]
    CopyIntoDisplayBuffer(#[source] weft_compositor::render::RenderError),
    #[error("mapping the dumb buffer: {0}")]
    MapDumb(#[source] std::io::Error),
    #[error("reading the frame back: {0}")]
    ReadBack(#[source] weft_compositor::render::RenderError),
    #[error(transparent)]
    Flip(#[from] DrmError),
    #[error("queueing the frame: {0}")]
    Queue(#[source] smithay::backend::drm::DrmError),
}

impl ShowError {
    /// The device refused weft (EACCES: another session holds it during a VT switch).
    pub fn permission_denied(&self) -> bool {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
            {
                return true;
            }
            cur = e.source();
        }
        false
    }
}

/// Why a client buffer is not on a plane of this output; its text joins the surface's reason.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error("the primary plane scans out XRGB8888, not {0:?}")]
    Format(smithay::backend::allocator::Fourcc),
    #[error("the display device does not import the buffer (PRIME: {0})")]
    Prime(std::sync::Arc<std::io::Error>),
    #[error("no framebuffer of the buffer (ADDFB2: {0})")]
    AddFb(std::sync::Arc<std::io::Error>),
    #[error("the {plane} plane refused it{} ({source})", if *.scaled { ", scaled" } else { "" })]
    Plane {
        plane: &'static str,
        scaled: bool,
        source: std::sync::Arc<DrmError>,
    },
    #[error("{0} has no atomic primary plane weft can flip")]
    NoAtomicPlane(String),
    #[error(transparent)]
    Flip(std::sync::Arc<DrmError>),
}
