//! The camera as a counter screen sees it, without any toolkit type: [`vision`] turns
//! one frame into a preview plus what the pipeline found (QR region and ID, face
//! checks, the 35:45 crop); [`camera`] runs it on its own thread and tags every result
//! with the epoch of the request, so a late result of an earlier applicant is dropped.

pub mod camera;
pub mod vision;

pub use camera::{Camera, Event, Mode};
pub use vision::{Captured, PhotoView, Preview, ScanView, Vision};
