//! The console's only assets, compiled into the binary: no CDN, no file on disk.

/// `GET /assets/console.css`.
pub(crate) const CSS: &str = include_str!("../assets/console.css");
/// `GET /assets/console.js`: keeps the fleet table's state cells current.
pub(crate) const JS: &str = include_str!("../assets/console.js");
