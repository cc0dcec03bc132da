//! Outputs: a smithay [`Output`] (wl_output + xdg-output global), its render target, and the frame
//! counters that presentation feedback reports.

use std::time::Duration;

use smithay::output::Output;
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::utils::{Logical, Size};

use crate::damage::tracker::OutputDamage;
use crate::render::RenderTarget;

/// An output's requested geometry: `WxH@HZ` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpec {
    pub width: u32,
    pub height: u32,
    pub refresh_mhz: u32,
}

impl std::str::FromStr for OutputSpec {
    type Err = String;

    /// Parses `1280x720@60`, `1920x1080@59.94` or `800x600` (60 Hz).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (size, hz) = s.split_once('@').unwrap_or((s, "60"));
        let (w, h) = size
            .split_once('x')
            .ok_or_else(|| format!("output '{s}': expected WIDTHxHEIGHT[@HZ]"))?;
        let width: u32 = w.parse().map_err(|_| format!("output '{s}': bad width"))?;
        let height: u32 = h.parse().map_err(|_| format!("output '{s}': bad height"))?;
        let hz: f64 = hz
            .parse()
            .map_err(|_| format!("output '{s}': bad refresh rate"))?;
        if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) {
            return Err(format!("output '{s}': size must be 1..16384 on each side"));
        }
        if !(1.0..=1000.0).contains(&hz) {
            return Err(format!("output '{s}': refresh must be 1..1000 Hz"));
        }
        Ok(Self {
            width,
            height,
            refresh_mhz: (hz * 1000.0).round() as u32,
        })
    }
}

pub struct OutputSlot {
    pub output: Output,
    /// Its wl_output global (none while it is off).
    pub(crate) global: Option<GlobalId>,
    pub spec: OutputSpec,
    pub target: RenderTarget,
    /// Frames presented (the MSC reported in presentation feedback).
    pub seq: u64,
    /// Frames actually rendered (the others were skipped: nothing changed).
    pub rendered: u64,
    pub last_present: Option<Duration>,
    /// The scene generation last rendered into `target`.
    pub rendered_generation: Option<u64>,
    /// The scene generation its last frame showed (rendered, or a display plane showing a
    /// client's buffer): an output whose scene is still this has nothing new to show
    /// ([`crate::outputs::wake`]).
    pub shown_generation: Option<u64>,
    /// The surface a display plane showed instead when the target was last drawn (left out of
    /// it): a change redraws.
    pub rendered_lifted: Option<smithay::reexports::wayland_server::backend::ObjectId>,
    /// The render device that composes this output (its registry id, a key of
    /// [`crate::render_devices::RenderDevices`]).
    pub device: crate::devices::DeviceId,
    /// What `target` shows, for the next frame's damage.
    pub damage: OutputDamage,
    /// Pixels the last rendered frame redrew.
    pub damaged_pixels: u64,
    /// What changed in `target` since a presenter last took it ([`Self::take_changed`]): a window
    /// backend copies only that into a swapchain image that showed the frame before (buffer age).
    pub changed: Vec<ash::vk::Rect2D>,
    /// Presentation feedback held until the display says when the frame was shown
    /// ([`crate::Weft::presented`]; a KMS page flip). `None`: sent with the frame, stamped
    /// with the backend's frame clock (headless, winit).
    pub held_feedback: Option<Vec<smithay::wayland::presentation::PresentationFeedbackCallback>>,
    /// The KMS device that scans this output out (`None`: headless or nested).
    pub display_device: Option<crate::devices::DeviceId>,
    /// The display backend's own bookkeeping of this output, shown by `weft msg outputs` (the
    /// KMS backend's counts of what reached the device).
    pub display_stats: Option<Box<dyn OutputStats>>,
    /// How a composed frame reaches what the output shows (set by the backend).
    pub frame_path: FramePath,
    /// Whether the cursor is drawn on this output ([`crate::seat::cursor`]): set by the nested
    /// backend; a headless output only with `--draw-cursor`; not yet on KMS outputs (that wants
    /// the cursor plane).
    pub draws_cursor: bool,
    /// Output pixels per logical pixel ([`crate::outputs::scale`]; 1 until configured).
    pub scale: f64,
    /// Whether it is on ([`crate::outputs::power`]): an output turned off is in no layout, is no
    /// wl_output global and renders nothing.
    pub enabled: bool,
    /// How it is turned or mirrored ([`crate::outputs::transform`]; normal until configured).
    pub transform: smithay::utils::Transform,
    /// Where the configuration puts it (global logical coordinates); `None`: right of the output
    /// before it.
    pub position: Option<(i32, i32)>,
}

/// How many full-frame copies a composed frame costs between the render target and what the
/// output shows, and why (`weft msg outputs`: `composed_copies_per_frame`, `composed_copies_why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePath {
    pub copies_per_frame: u32,
    pub why: &'static str,
}

impl Default for FramePath {
    /// Headless: the render target is what the output shows; a screenshot reads it back.
    fn default() -> Self {
        Self {
            copies_per_frame: 0,
            why: "headless: the render target is the output's image",
        }
    }
}

/// Bookkeeping a backend keeps of an output for itself and lets introspection show
/// ([`OutputSlot::display_stats`]; `weft msg outputs`, under `kms`). Backends implement it
/// ([`crate::backend`]).
pub trait OutputStats {
    fn to_json(&self) -> serde_json::Value;
}

/// More changed rectangles than this collapse into the whole target.
const MAX_CHANGED: usize = 16;

impl OutputSlot {
    /// Records rectangles of `target` a frame redrew.
    pub fn record_changed(&mut self, rects: &[ash::vk::Rect2D]) {
        self.changed.extend_from_slice(rects);
        if self.changed.len() > MAX_CHANGED {
            self.changed = vec![self.target.area()];
        }
    }

    /// What changed in `target` since the last call (for a presenter).
    pub fn take_changed(&mut self) -> Vec<ash::vk::Rect2D> {
        std::mem::take(&mut self.changed)
    }

    pub fn refresh_period(&self) -> Duration {
        Duration::from_nanos(1_000_000_000_000 / u64::from(self.spec.refresh_mhz.max(1)))
    }

    /// Its size in logical pixels: its pixels, turned upright ([`crate::outputs::transform`]),
    /// over its scale ([`crate::outputs::scale`]).
    pub fn logical_size(&self) -> Size<i32, Logical> {
        let at = |px: i32| (f64::from(px) / self.scale).round() as i32;
        let upright = self.upright_pixels();
        (at(upright.w), at(upright.h)).into()
    }

    /// Its size in pixels as the scene is built before it is turned: the mode's, sides swapped
    /// by a quarter turn.
    pub fn upright_pixels(&self) -> Size<i32, smithay::utils::Physical> {
        self.transform.transform_size(Size::from((
            self.spec.width as i32,
            self.spec.height as i32,
        )))
    }

    pub fn name(&self) -> String {
        self.output.name()
    }

    /// Renders into `target` from now on (a new size or device): the next frame draws it whole.
    pub fn set_target(&mut self, target: RenderTarget) {
        self.target = target;
        self.changed = vec![self.target.area()];
        self.rendered_generation = None;
        self.shown_generation = None;
        self.damage.reset();
    }

    /// The next frame redraws the whole output.
    pub fn damage_all(&mut self) {
        self.rendered_generation = None;
        self.shown_generation = None;
        self.damage.reset();
    }
}

/// The outputs, what they present with, and the scene generation that says when to re-render.
pub struct Outputs {
    pub(crate) slots: Vec<OutputSlot>,
    /// Kept: the global lives as long as this.
    pub(crate) _output_manager_state: smithay::wayland::output::OutputManagerState,
    /// Kept: the global lives as long as this.
    pub(crate) _presentation_state: smithay::wayland::presentation::PresentationState,
    pub(crate) _fractional_scale: smithay::wayland::fractional_scale::FractionalScaleManagerState,
    pub(crate) clock: crate::outputs::clock::Clock,
    /// Background colour of every output (premultiplied RGBA).
    pub(crate) background: [f32; 4],
    /// Bumped whenever anything visible changes; outputs re-render when theirs differs.
    pub(crate) scene_generation: u64,
    /// zwlr_output_manager_v1: the managers bound and their heads ([`crate::outputs::management`]).
    pub(crate) management: crate::outputs::management::OutputManagement,
    /// Wakes a display backend that flips only on demand ([`crate::outputs::wake`]).
    pub(crate) waker: crate::outputs::wake::FrameWaker,
    /// The display backend's side of configuring the outputs it drives
    /// ([`crate::outputs::display_control`]; none headless or nested).
    pub(crate) display_control:
        Option<std::rc::Rc<dyn crate::outputs::display_control::DisplayControl>>,
}

#[cfg(test)]
mod tests {
    use super::OutputSpec;

    #[test]
    fn parses_output_specs() {
        let s: OutputSpec = "1280x720@60".parse().unwrap();
        assert_eq!((s.width, s.height, s.refresh_mhz), (1280, 720, 60_000));
        let s: OutputSpec = "1920x1080@59.94".parse().unwrap();
        assert_eq!(s.refresh_mhz, 59_940);
        let s: OutputSpec = "800x600".parse().unwrap();
        assert_eq!(s.refresh_mhz, 60_000);
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "1280",
            "0x720@60",
            "1280x720@0",
            "axb@60",
            "1280x720@x",
            "99999x10",
        ] {
            assert!(bad.parse::<OutputSpec>().is_err(), "{bad} should not parse");
        }
    }
}
