//! Issue 20 item 5, on every backend (the province) with a county on SQLite: the two
//! deployments talk over HTTPS. The province sits behind a TLS front with a certificate from a
//! CA of its own (test material in `tls/`); the county refuses it until that CA's certificate is
//! given at registration (then trusts only it), refuses a CA text that is not a certificate,
//! and its reports then go up over HTTPS and count exactly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use backstop_app::federation;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

use crate::federation::{actor, county_figures, county_for, serve_on};
use crate::support::{T, each_backend};

const CA_PEM: &str = include_str!("tls/ca.pem");
const SERVER_PEM: &[u8] = include_bytes!("tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("tls/server.key");

/// A TLS front on 127.0.0.1 for the HTTP service on `backend`: one request per connection,
/// passed on with `Connection: close` and the answer sent back. Returns the front's port.
fn tls_front(backend: u16) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_PEM)
        .collect::<Result<_, _>>()
        .expect("server certificate");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).expect("server key");
    // The provider the client side (ureq's `rustls` feature) is built with; deprecated in
    // rustls only for lacking post-quantum key exchange, which a test front does not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = pass_one(config, tcp, backend);
            });
        }
    });
    port
}

fn pass_one(
    config: Arc<rustls::ServerConfig>,
    tcp: TcpStream,
    backend: u16,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    // The request head, then as much body as it says.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut out: String = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(("127.0.0.1", backend))?;
    up.write_all(out.as_bytes())?;
    up.write_all(&buf[head_end..])?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    tls.write_all(&answer)?;
    tls.conn.send_close_notify();
    tls.flush()
}

#[tokio::test]
async fn a_county_reports_to_its_province_over_https_with_the_province_ca() {
    each_backend(|parent: T| async move {
        let (county, issued) = county_for(&parent).await;
        let (port, up) = serve_on(&parent, 0).await;
        let https = format!("https://127.0.0.1:{}", tls_front(port));
        let sec_c = actor("sec.c", "secadmin", "130110");
        let register = |ca: Option<&'static str>| {
            let (state, url, cred, sec) = (
                county.state.clone(),
                https.clone(),
                issued.credential.clone(),
                sec_c.clone(),
            );
            async move { federation::child::register(&state, &sec, &url, &cred, ca).await }
        };

        // The public roots do not vouch for the province's own CA: refused, and said why.
        let e = register(None).await.expect_err("untrusted certificate");
        assert_eq!(e.fields[0].field, "parent_url", "{e:?}");
        assert!(e.fields[0].message.contains("证书"), "{e:?}");
        // A CA text that is not a certificate is refused before any call.
        let e = register(Some("-----BEGIN NONSENSE-----"))
            .await
            .expect_err("not PEM");
        assert_eq!(e.fields[0].field, "ca_pem", "{e:?}");
        let st = federation::child::status(&county.state, &sec_c)
            .await
            .expect("status");
        assert!(!st.registered, "nothing stored");

        // With the province's CA the link holds, and reports go up over HTTPS.
        let link = register(Some(CA_PEM)).await.expect("register over HTTPS");
        assert!(link.tls && link.custom_ca, "{link:?}");
        assert_eq!(link.node_id, issued.node.id);
        let off_c = county.user("off.c", &["official"], "130110").await;
        let off_p = parent.user("off.p", &["official"], "130110").await;
        for (unit, n) in [("130110100001", 7), ("130110100002", 9)] {
            let (s, r) = county
                .post(
                    "/api/v1/reports",
                    &off_c,
                    json!({"template": "village_daily", "unit": unit,
                    "period": "2026-03-02", "values": {"households_screened": n,
                    "people_screened": n * 3, "close_contacts": 0, "home_observation": 0,
                    "released": 0, "fever_referred": 0}}),
                )
                .await;
            assert_eq!(s, axum::http::StatusCode::CREATED, "{r}");
        }
        let r = federation::child::sync_once(&county.state)
            .await
            .expect("sync");
        assert_eq!(
            (r.applied, r.pending, r.error.as_deref()),
            (2, 0, None),
            "{r:?}"
        );
        let at_county = county_figures(&county, &off_c).await;
        assert_eq!(at_county, (2, 16, 48));
        assert_eq!(county_figures(&parent, &off_p).await, at_county);
        up.abort();
        county.state.db.close().await;
    })
    .await;
}
