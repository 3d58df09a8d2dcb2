//! One file per screen (as in egui_demo_lib): each draws its screen from the model
//! and calls the model's methods; none decides anything a model test cannot see.

mod blocked;
mod choices;
mod login;
mod photo;
mod pins;
mod receipt;
mod review;
mod scan;
mod summary;

pub(crate) use blocked::*;
pub(crate) use choices::*;
pub(crate) use login::*;
pub(crate) use photo::*;
pub(crate) use pins::*;
pub(crate) use receipt::*;
pub(crate) use review::*;
pub(crate) use scan::*;
pub(crate) use summary::*;
