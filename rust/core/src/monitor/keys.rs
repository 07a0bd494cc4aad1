//! The platform's keys and what Penglai leaves empty in a report (B8 fix).
//!
//! A device has two SM2 (sm2p256v1) key pairs: the **device key** (root of trust a verifier
//! pins) and the **monitor (SM) key** (signs enclave reports). The platform block of §6.3 is
//! filled as follows:
//!
//! * `dev_pub_key`, `sm.sm_pub_key`: `X ‖ Y`, 32 bytes big-endian each;
//! * `sm.hash` = SM3 of [`sm_description`] (pltvm version and monitor configuration);
//! * `sm.signature` = device-key signature over `SM3(sm.hash ‖ sm_pub_key)`.
//!
//! Signatures are Penglai's form, `r ‖ s` over a 32-byte hash used directly as the digest `e`
//! (no `Z_A`), but with an RFC 6979 deterministic `k` (RustCrypto `sm2`, `sign_prehash`).
//!
//! Where keys come from: [`Keys::load_or_create`] (the per-user key file, created on first use
//! with mode 0600 in a 0700 directory: `$PLTVM_KEY_DIR` or `~/.local/share/pltvm`), the host
//! program ([`parse_private_key`]: PEM or a raw 32-byte scalar), or [`Keys::test`], a fixed,
//! documented development key set for reproducible tests (`PLTVM_TEST_KEYS=1` selects it
//! for the default).
use super::measure::sm3;
use sm2::dsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::sec1::ToEncodedPoint;
use sm2::SecretKey;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Z_A is never computed (prehash signing), but the key types want an identifier.
const DISTID: &str = "1234567812345678";
/// File name of the key set inside the key directory.
pub const KEY_FILE: &str = "platform-keys";

/// A private scalar accepted by SM2: 32 bytes big-endian in `[1, n-1]`.
pub fn signing_key(scalar: &[u8; 32]) -> Result<SigningKey, String> {
    SigningKey::from_slice(DISTID, scalar).map_err(|_| "not a valid SM2 private key (must be in [1, n-1])".to_string())
}

/// `X ‖ Y` of a key.
pub fn public_bytes(k: &SigningKey) -> [u8; 64] {
    let p = k.verifying_key().as_affine().to_encoded_point(false);
    let mut out = [0u8; 64];
    out.copy_from_slice(&p.as_bytes()[1..65]);
    out
}

/// SM2 signature `r ‖ s` over the 32-byte digest `e` (no Z_A), deterministic `k`.
pub fn sign(k: &SigningKey, digest: &[u8; 32]) -> [u8; 64] {
    let sig: Signature = k.sign_prehash(digest).expect("SM2 signing of a 32-byte digest");
    sig.to_bytes().into()
}

/// Digest-level SM2 verification (`e` = the 32 bytes, no Z_A) against a public key `X ‖ Y`.
pub fn verify(public: &[u8; 64], digest: &[u8; 32], signature: &[u8; 64]) -> bool {
    let mut sec1 = [0u8; 65];
    sec1[0] = 4;
    sec1[1..].copy_from_slice(public);
    let Ok(vk) = VerifyingKey::from_sec1_bytes(DISTID, &sec1) else { return false };
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    vk.verify_prehash(digest, &sig).is_ok()
}

/// A private key from the host program: a raw 32-byte scalar, 64 hex digits, or PEM
/// (`PRIVATE KEY` PKCS#8 or `EC PRIVATE KEY` SEC1, curve sm2p256v1).
pub fn parse_private_key(data: &[u8]) -> Result<[u8; 32], String> {
    if data.len() == 32 {
        let k: [u8; 32] = data.try_into().unwrap();
        signing_key(&k)?;
        return Ok(k);
    }
    let text = std::str::from_utf8(data).map_err(|_| "a private key must be 32 raw bytes, hex or PEM".to_string())?;
    let t = text.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut k = [0u8; 32];
        for i in 0..32 {
            k[i] = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap();
        }
        signing_key(&k)?;
        return Ok(k);
    }
    use sm2::pkcs8::DecodePrivateKey;
    let sk = if t.contains("BEGIN EC PRIVATE KEY") {
        SecretKey::from_sec1_pem(t).map_err(|e| format!("cannot read the SEC1 PEM key: {e}"))?
    } else if t.contains("BEGIN PRIVATE KEY") {
        SecretKey::from_pkcs8_pem(t).map_err(|e| format!("cannot read the PKCS#8 PEM key (must be sm2p256v1): {e}"))?
    } else {
        return Err("a private key must be 32 raw bytes, 64 hex digits or PEM".into());
    };
    Ok(sk.to_bytes().into())
}

/// PKCS#8 PEM of a private scalar (to hand keys to other tools).
pub fn private_key_pem(scalar: &[u8; 32]) -> Result<String, String> {
    use sm2::pkcs8::{EncodePrivateKey, LineEnding};
    let sk = SecretKey::from_slice(scalar).map_err(|_| "not a valid SM2 private key".to_string())?;
    sk.to_pkcs8_pem(LineEnding::LF).map(|s| s.to_string()).map_err(|e| e.to_string())
}

/// The two private keys of a device.
#[derive(Clone)]
pub struct Keys {
    pub device: SigningKey,
    pub sm: SigningKey,
    /// Where they came from ("test", "host", or the key file's path).
    pub origin: String,
}

/// A scalar in `[1, n-1]` from a label: SM3, re-hashed until valid (practically never).
fn scalar_from_label(label: &str) -> [u8; 32] {
    let mut d = sm3(label.as_bytes());
    while signing_key(&d).is_err() {
        d = sm3(&d);
    }
    d
}

impl Keys {
    pub fn from_scalars(device: &[u8; 32], sm: &[u8; 32], origin: &str) -> Result<Keys, String> {
        Ok(Keys { device: signing_key(device)?, sm: signing_key(sm)?, origin: origin.into() })
    }

    /// The documented development key set (not secret!): device scalar
    /// `SM3("pltvm test device key")`, SM scalar `SM3("pltvm test sm key")`.
    pub fn test() -> Keys {
        Keys::from_scalars(&scalar_from_label("pltvm test device key"), &scalar_from_label("pltvm test sm key"), "test")
            .expect("valid test keys")
    }

    /// Fresh random keys (OS randomness).
    pub fn generate(origin: &str) -> Result<Keys, String> {
        loop {
            let mut b = [0u8; 64];
            if !super::rng::os_fill(&mut b) {
                return Err("no OS randomness for key generation".into());
            }
            let (d, s) = (b[..32].try_into().unwrap(), b[32..].try_into().unwrap());
            if let Ok(k) = Keys::from_scalars(&d, &s, origin) {
                return Ok(k);
            }
        }
    }

    /// The default key directory: `$PLTVM_KEY_DIR`, else `$XDG_DATA_HOME/pltvm`, else
    /// `~/.local/share/pltvm`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("PLTVM_KEY_DIR").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(d).join("pltvm"));
        }
        std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".local/share/pltvm"))
    }

    /// The default keys: the test set if `PLTVM_TEST_KEYS` is `1`, else the per-user key file.
    pub fn default_keys() -> Result<Keys, String> {
        if std::env::var("PLTVM_TEST_KEYS").is_ok_and(|v| v == "1") {
            return Ok(Keys::test());
        }
        let dir = Keys::default_dir().ok_or("no key directory: set PLTVM_KEY_DIR or HOME")?;
        Keys::load_or_create(&dir)
    }

    fn text(&self) -> String {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        format!(
            "# pltvm platform keys: SM2 (sm2p256v1) private scalars, big-endian hex. Keep private.\ndevice {}\nsm {}\n",
            hex(&self.device.to_bytes()),
            hex(&self.sm.to_bytes())
        )
    }

    fn parse(text: &str, origin: &str) -> Result<Keys, String> {
        let mut dev = None;
        let mut sm = None;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            match (it.next(), it.next()) {
                (Some("device"), Some(h)) => dev = Some(parse_private_key(h.as_bytes())?),
                (Some("sm"), Some(h)) => sm = Some(parse_private_key(h.as_bytes())?),
                _ => {}
            }
        }
        match (dev, sm) {
            (Some(d), Some(s)) => Keys::from_scalars(&d, &s, origin),
            _ => Err(format!("{origin}: not a pltvm key file (needs 'device' and 'sm' lines)")),
        }
    }

    /// Reads `dir/platform-keys`, creating it (0600, directory 0700) with fresh keys if it does
    /// not exist. Concurrent first uses agree on one key set (the file appears atomically).
    pub fn load_or_create(dir: &Path) -> Result<Keys, String> {
        let path = dir.join(KEY_FILE);
        let origin = path.display().to_string();
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Keys::parse(&text, &origin);
        }
        create_dir_private(dir).map_err(|e| format!("cannot create the key directory {}: {e}", dir.display()))?;
        let keys = Keys::generate(&origin)?;
        let tmp = dir.join(format!(".{KEY_FILE}.{}.{:?}", std::process::id(), std::thread::current().id()));
        let write = || -> std::io::Result<()> {
            let mut f = open_private(&tmp)?;
            f.write_all(keys.text().as_bytes())?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("cannot write the key file {origin}: {e}"));
        }
        // hard_link fails if another process created the file first: then use theirs.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(keys),
            Err(_) => {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read the key file {origin}: {e}"))?;
                Keys::parse(&text, &origin)
            }
        }
    }
}

#[cfg(unix)]
fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// The filled platform block (§6.3) of one monitor.
#[derive(Clone)]
pub struct Platform {
    pub keys: Keys,
    pub dev_pub: [u8; 64],
    pub sm_pub: [u8; 64],
    pub description: String,
    pub sm_hash: [u8; 32],
    pub sm_signature: [u8; 64],
}

/// What `sm.signature` signs: `SM3(sm.hash ‖ sm_pub_key)`.
pub fn sm_signed_digest(sm_hash: &[u8; 32], sm_pub: &[u8; 64]) -> [u8; 32] {
    let mut b = [0u8; 96];
    b[..32].copy_from_slice(sm_hash);
    b[32..].copy_from_slice(sm_pub);
    sm3(&b)
}

impl Platform {
    pub fn new(keys: Keys, description: String) -> Platform {
        let dev_pub = public_bytes(&keys.device);
        let sm_pub = public_bytes(&keys.sm);
        let sm_hash = sm3(description.as_bytes());
        let sm_signature = sign(&keys.device, &sm_signed_digest(&sm_hash, &sm_pub));
        Platform { keys, dev_pub, sm_pub, description, sm_hash, sm_signature }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_deterministic_prehash_and_verify() {
        let k = Keys::test();
        let pubk = public_bytes(&k.sm);
        let d = sm3(b"report");
        let s1 = sign(&k.sm, &d);
        assert_eq!(s1, sign(&k.sm, &d), "RFC 6979 k: same input, same signature");
        assert!(verify(&pubk, &d, &s1));
        let mut bad = s1;
        bad[63] ^= 1;
        assert!(!verify(&pubk, &d, &bad));
        let mut d2 = d;
        d2[0] ^= 0x80;
        assert!(!verify(&pubk, &d2, &s1));
        assert!(!verify(&public_bytes(&k.device), &d, &s1));
    }

    /// e is the hash itself: check r = (e + x1) mod n against the signature equation
    /// s = (1+d)^-1 (k - r d) with k recovered, i.e. s(1+d) + r d = k and x(kG) + e = r.
    #[test]
    fn signature_uses_the_hash_directly_as_e() {
        use sm2::elliptic_curve::ops::Reduce;
        use sm2::elliptic_curve::point::AffineCoordinates;
        use sm2::{FieldBytes, ProjectivePoint, Scalar};
        let k = Keys::test();
        let d = *k.sm.as_nonzero_scalar().as_ref();
        let e_bytes = sm3(b"anything");
        let sig = sign(&k.sm, &e_bytes);
        let scalar = |b: &[u8]| {
            let bytes: [u8; 32] = b.try_into().unwrap();
            <Scalar as Reduce<sm2::U256>>::reduce_bytes(&FieldBytes::from(bytes))
        };
        let r = scalar(&sig[..32]);
        let s = scalar(&sig[32..]);
        let kk = s * (Scalar::ONE + d) + r * d;
        let x1 = (ProjectivePoint::GENERATOR * kk).to_affine().x();
        let e = scalar(&e_bytes);
        assert_eq!(e + <Scalar as Reduce<sm2::U256>>::reduce_bytes(&x1), r);
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("pltvm-keys-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Keys::load_or_create(&dir).unwrap();
        let b = Keys::load_or_create(&dir).unwrap();
        assert_eq!(a.device.to_bytes(), b.device.to_bytes());
        assert_eq!(a.sm.to_bytes(), b.sm.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn private_keys_parse_raw_hex_and_pem() {
        let k = Keys::test();
        let raw: [u8; 32] = k.device.to_bytes().into();
        assert_eq!(parse_private_key(&raw).unwrap(), raw);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_private_key(hex.as_bytes()).unwrap(), raw);
        let pem = private_key_pem(&raw).unwrap();
        assert_eq!(parse_private_key(pem.as_bytes()).unwrap(), raw);
        assert!(parse_private_key(&[0u8; 32]).is_err());
        assert!(parse_private_key(b"junk").is_err());
    }

    #[test]
    fn platform_chain_verifies() {
        let p = Platform::new(Keys::test(), "desc".into());
        assert_eq!(p.sm_hash, sm3(b"desc"));
        assert!(verify(&p.dev_pub, &sm_signed_digest(&p.sm_hash, &p.sm_pub), &p.sm_signature));
    }
}
