//! Why a request was refused, without any HTTP type: a [`RefusalKind`] (the class the
//! HTTP layer maps to a status, `crate::http::status_of`), a stable code and a message
//! (never any applicant data). The submission pipeline, the registry and the store
//! speak this; only `http/` knows status codes.

/// The class of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The request is not well-formed (400).
    Malformed,
    /// The client may not do this (403).
    Forbidden,
    /// No such endpoint (404).
    NotFound,
    /// The endpoint exists, the method does not (405).
    MethodNotAllowed,
    /// The body did not arrive in time (408).
    Timeout,
    /// The request conflicts with the current state (409).
    Conflict,
    /// The body is larger than the limit (413).
    TooLarge,
    /// Well-formed but invalid content (422).
    Unprocessable,
    /// A fault of the relay (500).
    Internal,
    /// The relay's storage cannot be reached; retry later (503 with `Retry-After`).
    Unavailable,
    /// A memory budget of the relay is full ([`crate::budget`]); retry later (503 with
    /// `Retry-After`).
    Busy,
    /// The relay's storage is full (507).
    StorageFull,
}

/// A refusal: `{"error":"code","message":"text"}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: RefusalKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    /// A fault of the relay: logged in full, answered with a generic message.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        Self::new(RefusalKind::Internal, "internal", "internal error")
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            RefusalKind::TooLarge,
            "too_large",
            format!("body larger than {limit} bytes"),
        )
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::Malformed, "malformed", message)
    }

    /// The error body (protocol `api::ErrorBody`).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&shinsei_protocol::api::ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        })
        .unwrap_or_default()
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Full => Self::new(
                RefusalKind::StorageFull,
                "storage_full",
                "the relay's storage is full",
            ),
            crate::store::StoreError::Unavailable(e) => {
                tracing::error!(error = %e, "storage unavailable");
                Self::new(
                    RefusalKind::Unavailable,
                    "unavailable",
                    "the relay's storage is unreachable; retry later",
                )
            }
            other => Self::internal(other),
        }
    }
}
