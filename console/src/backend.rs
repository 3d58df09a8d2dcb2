//! What the console asks of the relay: the admin API, through
//! `shinsei_provisioning::fleet::AdminClient` (mutual TLS with the admin certificate,
//! trusting only the ward root). A trait so the pages need no network to be built.

use shinsei_protocol::{
    api::{
        ActionRequest, ActionResult, AdminAction, AdminAuditLog, DeviceAuditView, DeviceList,
        DeviceView, RenewalHold, StaffListView,
    },
    device::DeviceId,
};
use shinsei_provisioning::fleet::AdminClient;

/// The relay's admin API, blocking (the handlers call it off the async threads).
pub trait Backend: Send + Sync + 'static {
    fn devices(&self) -> Result<DeviceList, String>;
    fn action(
        &self,
        id: &DeviceId,
        action: AdminAction,
        ask: &ActionRequest,
    ) -> Result<ActionResult, String>;
    fn audit(&self) -> Result<AdminAuditLog, String>;
    fn device_audit(&self, id: &DeviceId) -> Result<DeviceAuditView, String>;
    /// Stops or resumes a device's certificate renewals.
    fn renewal_hold(&self, id: &DeviceId, hold: &RenewalHold) -> Result<DeviceView, String>;
    /// Hands a signed staff list to the relay for the tablets.
    fn publish_staff_list(&self, signed: &[u8]) -> Result<StaffListView, String>;
}

impl Backend for AdminClient {
    fn devices(&self) -> Result<DeviceList, String> {
        self.list_devices().map_err(|e| e.to_string())
    }

    fn action(
        &self,
        id: &DeviceId,
        action: AdminAction,
        ask: &ActionRequest,
    ) -> Result<ActionResult, String> {
        self.device_action(id, action, ask)
            .map_err(|e| e.to_string())
    }

    fn audit(&self) -> Result<AdminAuditLog, String> {
        AdminClient::audit(self).map_err(|e| e.to_string())
    }

    fn device_audit(&self, id: &DeviceId) -> Result<DeviceAuditView, String> {
        AdminClient::device_audit(self, id).map_err(|e| e.to_string())
    }

    fn renewal_hold(&self, id: &DeviceId, hold: &RenewalHold) -> Result<DeviceView, String> {
        AdminClient::renewal_hold(self, id, hold).map_err(|e| e.to_string())
    }

    fn publish_staff_list(&self, signed: &[u8]) -> Result<StaffListView, String> {
        AdminClient::publish_staff_list(self, signed).map_err(|e| e.to_string())
    }
}
