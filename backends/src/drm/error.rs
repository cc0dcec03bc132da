//! What can go wrong talking to a KMS device, as data; turned into text only where it becomes a
//! log line or a surface's reason.

/// An atomic-KMS failure.
#[derive(Debug, thiserror::Error)]
pub enum DrmError {
    /// DRM_IOCTL_MODE_OBJ_GETPROPERTIES on an object failed.
    #[error("properties: {0}")]
    Properties(std::io::Error),
    /// DRM_IOCTL_MODE_GETPROPERTY failed.
    #[error("property {id}: {source}")]
    Property { id: u32, source: std::io::Error },
    /// A plane lacks a property atomic flips set.
    #[error("the plane has no {0} property")]
    MissingProperty(&'static str),
    /// The driver refused the layers (atomic TEST_ONLY).
    #[error("atomic TEST_ONLY: {0}")]
    TestOnly(std::io::Error),
    /// The flip was not queued.
    #[error("atomic page flip: {0}")]
    Flip(std::io::Error),
    /// The dumb buffer could not be exported (PRIME) for the render device.
    #[error("PRIME export of the dumb buffer: {0}")]
    PrimeExport(std::io::Error),
    /// The render device does not import the display device's buffer.
    #[error(transparent)]
    Destination(#[from] weft_compositor::outputs::DestinationError),
}
