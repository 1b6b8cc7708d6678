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
    /// 0600 if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io(shown.clone(), e))?;
            let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Format(shown.clone()))?;
            let master: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format(shown))?;
            return Ok(Self::from_master(master));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(shown.clone(), e))?;
        }
        let mut master = [0u8; 32];
        rand::rng().fill_bytes(&mut master);
        write_private(path, &hex::encode(master)).map_err(|e| KeyError::Io(shown, e))?;
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
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.index).unwrap_or_else(|_| unreachable!());
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
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

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token("s_");
        assert!(a.len() >= 45);
        assert_ne!(a, random_token("s_"));
        assert_eq!(token_hash(&a).len(), 64);
    }
}
