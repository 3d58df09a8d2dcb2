//! Firmware files of a tablet, rendered from its device bundle: [`mod@render`] (pure: the
//! firewall, Wi-Fi profile, sandboxed units; [`render::FirmwareError`]) and [`output`]
//! (reading the bundle, writing the files). Split so that the error type of the tool
//! can name [`render::FirmwareError`] while [`output`] returns the tool's error,
//! without a cycle between the two modules.

pub mod output;
pub mod render;

pub use output::{enclosing_git_tree, load_bundle, write_rendered};
pub use render::*;
