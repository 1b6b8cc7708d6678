//! Running and measuring what a benchmark drives: a child process under `/usr/bin/time -v`
//! (wall time here, peak RSS from the kernel), a Tokio runtime, one scalar from a database,
//! fresh PostgreSQL databases.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::die;

/// A finished child process: wall seconds, peak RSS (kB), its standard output.
pub struct Measured {
    pub secs: f64,
    pub peak_kb: u64,
    pub stdout: String,
}

/// Run a command under `/usr/bin/time -v` (GNU time reports the child's `wait4` rusage):
/// wall time measured here, peak RSS from the kernel. Exits on failure.
pub fn measure(label: &str, work: &Path, cmd: &[&str]) -> Measured {
    let tag: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let time_file = work.join(format!("{tag}.time"));
    eprintln!("==> {label}: {}", cmd.join(" "));
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(&time_file)
        .args(cmd)
        .env("BACKSTOP_LOG", "warn")
        .output()
        .unwrap_or_else(|e| {
            die(format!(
                "{label}: /usr/bin/time: {e} (apt-get install time)"
            ))
        });
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        die(format!("{label} failed: {}", out.status));
    }
    let time = std::fs::read_to_string(&time_file).unwrap_or_default();
    let peak_kb = time
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    for l in stdout.lines() {
        eprintln!("    {l}");
    }
    eprintln!(
        "    {secs:.2} s, peak RSS {:.1} MB",
        peak_kb as f64 / 1024.0
    );
    Measured {
        secs,
        peak_kb,
        stdout,
    }
}

/// A Tokio runtime with two workers (the machine's cores).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(format!("runtime: {e}")))
}

/// One BIGINT from `sql` on a fresh connection to `url`.
pub async fn scalar_i64(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| die(format!("connect {}: {e}", backstop_store::redact_url(url))));
    let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| die(format!("{sql}: {e}")));
    let _ = c.close().await;
    v
}

/// Fresh PostgreSQL databases from an administrator URL; returns their URLs.
pub async fn fresh_pg(admin: &str, names: &[&str]) -> Vec<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|e| die(format!("connect: {e}")));
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or_else(|| admin.to_string());
    let mut out = Vec::new();
    for n in names {
        for sql in [
            format!("DROP DATABASE IF EXISTS {n}"),
            format!("CREATE DATABASE {n}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| die(format!("{n}: {e}")));
        }
        out.push(format!("{base}/{n}"));
    }
    let _ = c.close().await;
    out
}
