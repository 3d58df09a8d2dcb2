//! The refusals of the HTTP API: a status, a stable code and a message (never any
//! applicant data).

use hyper::StatusCode;

/// An API refusal: `{"error":"code","message":"text"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("body larger than {limit} bytes"),
        )
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&shinsei_protocol::api::ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        })
        .unwrap_or_default()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Full => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "the relay's storage is full",
            ),
            crate::store::StoreError::Unavailable(e) => {
                tracing::error!(error = %e, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the relay's storage is unreachable; retry later",
                )
            }
            other => Self::internal(other),
        }
    }
}
