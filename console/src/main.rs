//! `shinsei-console`: IT's fleet console on loopback (see the crate docs).
#![forbid(unsafe_code)]

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use shinsei_console::backend::Backend;
use shinsei_pki::layout::PkiLayout;
use shinsei_provisioning::fleet::AdminClient;

/// 管理コンソール（ループバックのみ） / the fleet console (loopback only)
#[derive(Debug, Parser)]
#[command(name = "shinsei-console", version)]
struct Cli {
    /// PKI ディレクトリ / PKI directory
    #[arg(long, default_value = "./pki", value_name = "DIR")]
    pki: PathBuf,
    /// 管理者証明書の名前（pki/admins/NAME.{pem,key}） / admin certificate name
    #[arg(long, value_name = "NAME")]
    admin_cert: Option<String>,
    /// 管理 API の URL（既定: deployment.json） / admin API URL (default: deployment.json)
    #[arg(long, value_name = "URL")]
    admin_url: Option<String>,
    /// 待ち受けアドレス（ループバックのみ） / listen address (loopback only; port 0 = any)
    #[arg(long, default_value = "127.0.0.1:8450")]
    listen: SocketAddr,
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("エラー / error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The relay client is blocking (it owns a runtime of its own), so it is made and
/// dropped outside the console's runtime; the handlers call it on blocking threads.
fn run(cli: Cli) -> Result<(), String> {
    if !cli.listen.ip().is_loopback() {
        return Err(format!(
            "{} はループバックではありません。コンソールはこの端末からのみ使えます / {} is not a loopback address: the console serves this workstation only",
            cli.listen, cli.listen
        ));
    }
    let l = PkiLayout::new(&cli.pki);
    let admin = shinsei_provisioning::fleet::choose_admin(&l, cli.admin_cert.as_deref())
        .map_err(|e| e.to_string())?;
    let local = shinsei_console::local::LocalPki::open(PkiLayout::new(&cli.pki), &admin)?;
    let client: Arc<dyn Backend> = Arc::new(
        AdminClient::from_pki(&l, cli.admin_cert.as_deref(), cli.admin_url.as_deref())
            .map_err(|e| e.to_string())?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let served = rt.block_on(serve(cli.listen, client.clone(), local));
    drop(rt);
    drop(client);
    served
}

async fn serve(
    listen: SocketAddr,
    client: Arc<dyn Backend>,
    local: shinsei_console::local::LocalPki,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (console, token) =
        shinsei_console::Console::new(client, port, Some(local)).map_err(|e| e.to_string())?;
    // The one line a person (or a test) reads: the one-time login URL.
    println!("{}", console.login_url(&token));
    eprintln!(
        "このURLをブラウザで開いてください（1回限り） / open this URL in a browser (it works once)"
    );
    axum::serve(listener, shinsei_console::router(console))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
