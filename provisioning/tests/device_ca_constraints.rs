//! Issue 17: the device CA made by `ca init` can certify clients only. Its certificate
//! carries an extended key usage of clientAuth alone, and rustls-webpki applies the EKU
//! of every certificate of a path (`check_issuer_independent_properties` runs on
//! intermediates too, with the end entity's required purpose), so a server certificate
//! minted with the device-CA key does not verify as a server, even in a verifier that
//! does not pin the relay. Device client certificates still verify, through the root or
//! anchored on the device CA as the relay does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::{
    client::danger::ServerCertVerifier,
    client::WebPkiServerVerifier,
    pki_types::{CertificateDer, ServerName, UnixTime},
    server::WebPkiClientVerifier,
    CertificateError,
};
use shinsei_pki::layout::{self, PkiLayout};
use shinsei_protocol::signed::DEVICE_CA_OU;
use shinsei_provisioning::pki;
use shinsei_testkit::{now, provider, tls::roots, PkiBuilder};
use x509_parser::{certificate::X509Certificate, prelude::FromDer};

const HOST: &str = "relay.test";

fn ward(dir: &std::path::Path) -> PkiLayout {
    PkiBuilder::new(&dir.join("pki")).host(HOST).layout()
}

/// A server certificate for [`HOST`] (EKU serverAuth, OU `shinsei relay`) from `issuer`.
fn server_cert(issuer: &Issuer<'_, KeyPair>) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![HOST.to_string()]).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationalUnitName, "shinsei relay");
    dn.push(DnType::CommonName, HOST);
    p.distinguished_name = dn;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p.signed_by(&key, issuer).unwrap().der().clone()
}

fn server_verifier(root: CertificateDer<'static>) -> Arc<WebPkiServerVerifier> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root)), provider())
        .build()
        .unwrap()
}

fn verify_server(
    v: &WebPkiServerVerifier,
    ee: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<(), rustls::Error> {
    v.verify_server_cert(
        ee,
        intermediates,
        &ServerName::try_from(HOST).unwrap(),
        &[],
        UnixTime::now(),
    )
    .map(|_| ())
}

#[test]
fn device_ca_certificate_says_client_auth_only() {
    let tmp = tempfile::tempdir().unwrap();
    let l = ward(tmp.path());
    let dca = pki::load_device_ca(&l, now()).unwrap();
    let (_, c) = X509Certificate::from_der(&dca.cert_der).unwrap();
    let eku = c
        .extended_key_usage()
        .unwrap()
        .expect("the device CA has an EKU extension")
        .value;
    assert!(eku.client_auth, "{eku:?}");
    assert!(
        !eku.server_auth
            && !eku.any
            && !eku.code_signing
            && !eku.email_protection
            && !eku.time_stamping
            && !eku.ocsp_signing
            && eku.other.is_empty(),
        "{eku:?}"
    );
    // Still the device CA the bundles and staff lists name (CA, KU certSign+digitalSig).
    let s = shinsei_protocol::signed::summarize_cert(&dca.cert_der).unwrap();
    assert!(s.is_ca);
    assert_eq!(s.organizational_unit.as_deref(), Some(DEVICE_CA_OU));
}

/// Issue 17's provisioning half: a server certificate for the relay's name minted with
/// the device-CA key fails rustls' WebPKI server verification against the ward root with
/// the device CA as intermediate, for its purpose. Controls: the relay's own certificate
/// passes the same verifier, and the same server certificate passes under a twin of the
/// device CA (same name, same key, signed by the same root) without the EKU, so the
/// refusal is the EKU's alone.
#[test]
fn device_ca_cannot_issue_a_server_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let l = ward(tmp.path());
    let t = now();
    let root = pki::load_root(&l, t).unwrap();
    let dca = pki::load_device_ca(&l, t).unwrap();
    let v = server_verifier(root.cert_der.clone());

    let forged = server_cert(&dca.issuer);
    let r = verify_server(&v, &forged, std::slice::from_ref(&dca.cert_der));
    assert!(
        matches!(
            r,
            Err(rustls::Error::InvalidCertificate(
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }
            ))
        ),
        "a device-CA server certificate must fail for its purpose: {r:?}"
    );

    // Control 1: the relay's certificate (issued by the root) verifies.
    let (chain, _) = layout::load_tls_server(&l.relay_tls_cert(), &l.relay_tls_key()).unwrap();
    verify_server(&v, &chain[0], &chain[1..]).unwrap();

    // Control 2: a device CA as `ca init` made it before issue 17 (no EKU), with the
    // same key, signed by the same root, does certify a server: the refusal above is the
    // EKU's alone.
    let pkcs8 = layout::read_pkcs8_pem(&l.device_ca_key()).unwrap();
    let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, DEVICE_CA_OU);
    p.distinguished_name
        .push(DnType::CommonName, "device CA without EKU");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let twin = p.signed_by(&key, &root.issuer).unwrap();
    let twin_issuer = Issuer::new(p, key);
    verify_server(&v, &server_cert(&twin_issuer), &[twin.der().clone()])
        .expect("without the EKU the device CA could certify a server (the gap it closes)");
}

/// Device client certificates still verify through the constrained device CA: anchored
/// on the device CA (as the relay's device listener is) and anchored on the root with
/// the device CA as intermediate (EKU checked on it).
#[test]
fn device_client_certificates_still_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let l = ward(tmp.path());
    let t = now();
    let root = pki::load_root(&l, t).unwrap();
    let dca = pki::load_device_ca(&l, t).unwrap();
    let tab = shinsei_testkit::device(&l, "TAB-0017", 30, t - 60);
    for (anchor, intermediates) in [
        (dca.cert_der.clone(), vec![]),
        (root.cert_der.clone(), vec![dca.cert_der.clone()]),
    ] {
        let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(anchor)), provider())
            .build()
            .unwrap();
        v.verify_client_cert(&tab.ident.cert, &intermediates, UnixTime::now())
            .unwrap();
    }
}
