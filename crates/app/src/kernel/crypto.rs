//! Keys and cryptography of the service: the master key file (kept outside the database),
//! AES-256-GCM encryption of personal fields and secrets, the HMAC blind index for exact
//! lookup of encrypted values, random tokens and their stored hashes.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("无法读取或创建密钥文件 {0}: {1}")]
    Io(String, std::io::Error),
    #[error("密钥文件 {0} 格式错误（应为 64 位十六进制）")]
    Format(String),
    #[error(
        "密钥文件 {0} 的权限为 {1:o}，同组或其他用户可以访问；服务拒绝启动。\
         请执行 `chmod 600 {0}`（并确认只有运行服务的用户拥有它）后再启动"
    )]
    Exposed(String, u32),
}

/// Derived keys for encryption and blind indexes.
#[derive(Clone)]
pub struct KeyRing {
    enc: [u8; 32],
    index: [u8; 32],
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing(..)")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl KeyRing {
    pub fn from_master(master: [u8; 32]) -> Self {
        KeyRing {
            enc: derive(&master, b"backstop/enc/v1"),
            index: derive(&master, b"backstop/index/v1"),
        }
    }

    /// Read the master key (hex) from `path`, creating it with fresh random bytes and mode
    /// 0600 (in a folder created 0700) if it does not exist. On Unix an existing key file that
    /// its group or other users can access is refused ([`KeyError::Exposed`]): the service does
    /// not start on a key others may have copied.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let master = load_or_create_secret(path, || {
            let mut master = [0u8; 32];
            rand::rng().fill_bytes(&mut master);
            master
        })?;
        Ok(Self::from_master(master))
    }

    /// Encrypt: version byte 1, 12-byte nonce, ciphertext with tag.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(&self.enc).unwrap_or_else(|_| unreachable!());
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(1u8);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn decrypt(&self, data: &[u8]) -> Option<Vec<u8>> {
        if data.len() < 13 || data[0] != 1 {
            return None;
        }
        let cipher = Aes256Gcm::new_from_slice(&self.enc).ok()?;
        cipher
            .decrypt(Nonce::from_slice(&data[1..13]), &data[13..])
            .ok()
    }

    /// Blind index: HMAC-SHA256 of a normalised value under a purpose label, its first 128
    /// bits as 32 hex characters (migration 0013 says why 128 bits are enough).
    pub fn blind_index(&self, purpose: &str, value: &str) -> String {
        self.blind_index_bytes(purpose, value.as_bytes())
    }

    /// [`Self::blind_index`] of raw bytes (a request body that may not be text).
    pub fn blind_index_bytes(&self, purpose: &str, value: &[u8]) -> String {
        hex::encode(&self.index_mac(purpose, value)[..16])
    }

    /// The full keyed hash (HMAC-SHA256 under the index key and a purpose label, 64 hex
    /// characters): for a checksum that must stay as long as SHA-256 but must not let anyone
    /// with the database test guesses of the personal data it covers.
    pub fn keyed_hash(&self, purpose: &str, value: &[u8]) -> String {
        hex::encode(self.index_mac(purpose, value))
    }

    fn index_mac(&self, purpose: &str, value: &[u8]) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.index).unwrap_or_else(|_| unreachable!());
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value);
        mac.finalize().into_bytes().into()
    }
}

/// Read a 32-byte secret (hex) from `path`, creating it from `fresh` with mode 0600 (in a
/// folder created 0700) if it does not exist; an existing file its group or other users can
/// access is refused, as the master key is (the disclosure key uses this).
pub fn load_or_create_secret(
    path: &Path,
    fresh: impl FnOnce() -> [u8; 32],
) -> Result<[u8; 32], KeyError> {
    let shown = path.display().to_string();
    if path.exists() {
        check_private(path).map_err(|e| match e {
            Private::Io(e) => KeyError::Io(shown.clone(), e),
            Private::Exposed(mode) => KeyError::Exposed(shown.clone(), mode),
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io(shown.clone(), e))?;
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Format(shown.clone()))?;
        return bytes.try_into().map_err(|_| KeyError::Format(shown));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        backstop_store::create_private_dir(dir).map_err(|e| KeyError::Io(shown.clone(), e))?;
    }
    let secret = fresh();
    write_private(path, &hex::encode(secret)).map_err(|e| KeyError::Io(shown, e))?;
    Ok(secret)
}

/// Why a file is not private.
enum Private {
    Io(std::io::Error),
    /// Its permission bits (group or other users have some access).
    Exposed(u32),
}

/// Is `path` accessible to its owner alone? (Always yes off Unix, where modes do not apply.)
fn check_private(path: &Path) -> Result<(), Private> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(Private::Io)?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(Private::Exposed(mode));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// A fresh random token: `prefix` + 256 random bits, base64url.
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// What is stored for a token: SHA-256, hex. The token itself is never stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = KeyRing::from_master([7u8; 32]);
        let ct = k.encrypt(b"11010519491231002X");
        assert!(!ct.windows(18).any(|w| w == b"11010519491231002X"));
        assert_eq!(k.decrypt(&ct).as_deref(), Some(&b"11010519491231002X"[..]));
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(k.decrypt(&bad), None);
        assert_eq!(k.blind_index("id", "x"), k.blind_index("id", "x"));
        assert_ne!(k.blind_index("id", "x"), k.blind_index("phone", "x"));
    }

    #[test]
    fn blind_index_is_the_prefix_of_the_full_hmac_that_migration_0013_keeps() {
        let k = KeyRing::from_master([7u8; 32]);
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&k.index).expect("key");
        mac.update(b"id\x00110105194912310029");
        let full = hex::encode(mac.finalize().into_bytes());
        assert_eq!(full.len(), 64);
        let short = k.blind_index("id", "110105194912310029");
        assert_eq!(short.len(), 32);
        assert_eq!(short, full[..32]);
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_private_and_refused_when_exposed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys").join("master.key");
        let k = KeyRing::load_or_create(&path).expect("create");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("keys")), 0o700);
        let again = KeyRing::load_or_create(&path).expect("reopen");
        assert_eq!(again.blind_index("id", "x"), k.blind_index("id", "x"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = KeyRing::load_or_create(&path).expect_err("exposed key refused");
        assert!(matches!(err, KeyError::Exposed(_, 0o644)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("chmod 600") && text.contains("master.key"),
            "{text}"
        );
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token("s_");
        assert!(a.len() >= 45);
        assert_ne!(a, random_token("s_"));
        assert_eq!(token_hash(&a).len(), 64);
    }
}
