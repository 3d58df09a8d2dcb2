//! `cargo run -p shinsei-tests --bin shinsei-demo`: the full flow on embedded defaults,
//! with the real binaries, real TLS on loopback and real files; no camera.
#![forbid(unsafe_code)]

use std::io::Write;

use shinsei_tests::{contains, ok, walk, write_photo, Relay, Result, Tablet, Ward};

fn say(s: &str) {
    let _ = writeln!(std::io::stdout(), "{s}");
}

fn main() {
    match demo() {
        Ok(()) => say("\nデモ完了 / demo complete"),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "demo failed: {e}");
            std::process::exit(1);
        }
    }
}

fn demo() -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("shinsei-demo-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let keep = std::env::var("SHINSEI_DEMO_KEEP").is_ok();
    let dir = tmp.path().to_path_buf();
    say(&format!(
        "作業ディレクトリ / working directory: {}",
        dir.display()
    ));

    say("\n1. 区のPKI・中継サーバー鍵・職員を作成 / ward PKI, relay keys, staff (shinsei-provision)");
    let ward = Ward::create(&dir)?;
    say(&format!(
        "   root CA, device CA, relay TLS + HPKE + receipt keys, admin '{}', staff '{}'",
        shinsei_tests::ADMIN,
        shinsei_tests::STAFF_ID
    ));

    say("\n2. 中継サーバーを起動 / start the relay (shinsei-relay, mTLS on 127.0.0.1)");
    let relay = Relay::start(&ward, "relay")?;
    say(&format!(
        "   listening on {} (devices) and port {} (admin)",
        relay.addr, ward.admin_port
    ));

    say("\n3. 端末を登録 / enroll tablets (key stays on the tablet: CSR → signed bundle)");
    let std_tab = Tablet::enroll(&ward, "TAB-0001", "standard")?;
    let exp_tab = Tablet::enroll(&ward, "TAB-0002", "express")?;
    say("   TAB-0001 (standard), TAB-0002 (express)");

    say("\n4. 申請を送信 / submit applications (staff login → seal → outbox → send → receipt)");
    let photo1 = dir.join("photo1.jpg");
    let photo2 = dir.join("photo2.jpg");
    let p1 = write_photo(&photo1, 11)?;
    let p2 = write_photo(&photo2, 22)?;
    let id1 = "12345678901234567890123";
    let id2 = "98765432109876543210987";
    let o = std_tab.submit(id1, &photo1, &["--e-cert", "yes", "--braille", "no"], None)?;
    say(&format!(
        "   TAB-0001: {}",
        String::from_utf8_lossy(&o.stdout).trim()
    ));
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).to_string());
    }
    let o = exp_tab.submit(
        id2,
        &photo2,
        &["--e-cert", "yes", "--braille", "yes"],
        Some(["ABC123", "1111", "2222", "3333"]),
    )?;
    say(&format!(
        "   TAB-0002: {}",
        String::from_utf8_lossy(&o.stdout).trim()
    ));
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).to_string());
    }

    say("\n5. 中継サーバーの転送先（J-LIS 代わりのスプール）/ the relay's spool (stand-in for J-LIS)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while relay.spooled().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for d in relay.spooled() {
        let j = std::fs::read_to_string(d.join("application.json")).map_err(|e| e.to_string())?;
        let mut v: serde_json::Value = serde_json::from_str(&j).map_err(|e| e.to_string())?;
        if let Some(p) = v.get_mut("pins") {
            *p = serde_json::json!("<4 PIN fields, shown masked here>");
        }
        let photo = std::fs::metadata(d.join("photo.jpg"))
            .map(|m| m.len())
            .unwrap_or(0);
        say(&format!(
            "   {}/application.json: {v}",
            d.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        ));
        say(&format!("   photo.jpg: {photo} bytes"));
    }

    say("\n6. 端末に何も残っていないことを確認 / nothing of the applications remains on the tablets");
    for (t, id, photo, pin) in [
        (&std_tab, id1, &p1, None),
        (&exp_tab, id2, &p2, Some("ABC123")),
    ] {
        let out = ok(t.agent()?.args(["status"]), "")?;
        let outbox = out
            .lines()
            .find(|l| l.contains("outbox"))
            .unwrap_or("")
            .trim()
            .to_string();
        let mut hits = 0;
        for (_, bytes) in walk(&t.data) {
            if contains(&bytes, id.as_bytes())
                || contains(&bytes, &photo[600..664])
                || pin.is_some_and(|p| contains(&bytes, p.as_bytes()))
            {
                hits += 1;
            }
        }
        say(&format!(
            "   {}: {outbox}; files containing the ID, photo bytes or PIN: {hits}",
            t.device_id
        ));
        if hits > 0 {
            return Err("plaintext found on the tablet".into());
        }
    }
    // The input photo files: removed by `submit` once sealed (unless --keep-photo).
    for f in [&photo1, &photo2] {
        say(&format!(
            "   {}: {}",
            f.display(),
            if f.exists() {
                "still there"
            } else {
                "removed after sealing"
            }
        ));
        if f.exists() {
            return Err("the applicant's photo file was left on disk".into());
        }
    }

    say("\n7. 紛失時：遠隔消去 / lost tablet: remote wipe (two security officers)");
    // The tool answers with a table: its header, a rule and the device's new state; the
    // first officer's order only waits for the second (the relay's two-person rule).
    for (who, extra) in [
        (
            shinsei_tests::ADMIN,
            &["--reason", "lost at the outreach event"][..],
        ),
        (shinsei_tests::ADMIN2, &[][..]),
    ] {
        let out = ward.fleet_as(who, "wipe", "TAB-0002", extra)?;
        say(&format!("   {who}:"));
        for line in out
            .lines()
            .filter(|l| !l.trim_start().starts_with('-'))
            .skip(1)
        {
            say(&format!("     {}", line.trim_end()));
        }
    }
    let o = shinsei_tests::run(exp_tab.agent()?.args(["run", "--for-secs", "20"]), "")?;
    say(&format!(
        "   TAB-0002 agent: {} (exit {})",
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .replace('\n', " / "),
        o.status.code().unwrap_or(-1)
    ));
    let o = shinsei_tests::run(exp_tab.agent()?.args(["status"]), "")?;
    say(&format!(
        "   TAB-0002 now: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    ));

    say("\n8. 監査ログ / audit log (hash chain, no personal data)");
    say(&format!(
        "   {}",
        ok(std_tab.agent()?.args(["audit", "verify"]), "")?.trim()
    ));
    if keep {
        let kept = tmp.keep();
        say(&format!("\n(kept {})", kept.display()));
    }
    Ok(())
}
