//! Attestation helpers of `pltvm._core`: SM2 (digest-level, no Z_A) for the Python verifier,
//! key parsing and the key store, the ahead-of-time measurement behind `pltvm.measure`, the
//! monitor's SM3 and HKDF (for known-answer tests), and the bodies of the attestation methods
//! of `Monitor` and `Enclave` (monitor.rs delegates here). Conversion only; the logic is in
//! `pltvm_core::monitor::{keys, attest, measure}`.
use pltvm_core::monitor::keys::{self, Keys};
use pltvm_core::monitor::{self as core, EnclaveCell};
use pltvm_core::monitor::{attest as core_attest, measure as core_measure};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

fn fixed<const N: usize>(what: &str, b: &[u8]) -> PyResult<[u8; N]> {
    b.try_into().map_err(|_| PyValueError::new_err(format!("{what} must be {N} bytes, not {}", b.len())))
}

/// Digest-level SM2 verification: `signature` (r ‖ s) over the 32-byte `digest` used directly
/// as e (no Z_A), public key X ‖ Y (64 bytes).
#[pyfunction]
pub fn sm2_verify(public_key: &[u8], digest: &[u8], signature: &[u8]) -> PyResult<bool> {
    let (p, d, s) = (fixed::<64>("public_key", public_key)?, fixed::<32>("digest", digest)?, fixed::<64>("signature", signature)?);
    Ok(keys::verify(&p, &d, &s))
}

/// SM2 signature (r ‖ s, RFC 6979 k) over the 32-byte `digest` used directly as e.
#[pyfunction]
pub fn sm2_sign<'py>(py: Python<'py>, private_key: &[u8], digest: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let k = keys::signing_key(&fixed::<32>("private_key", private_key)?).map_err(PyValueError::new_err)?;
    Ok(PyBytes::new(py, &keys::sign(&k, &fixed::<32>("digest", digest)?)))
}

/// Public key X ‖ Y of a private scalar.
#[pyfunction]
pub fn sm2_public_key<'py>(py: Python<'py>, private_key: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let k = keys::signing_key(&fixed::<32>("private_key", private_key)?).map_err(PyValueError::new_err)?;
    Ok(PyBytes::new(py, &keys::public_bytes(&k)))
}

/// A private scalar from 32 raw bytes, 64 hex digits or PEM (PKCS#8 / SEC1, sm2p256v1).
#[pyfunction]
pub fn parse_private_key<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let k = keys::parse_private_key(data).map_err(PyValueError::new_err)?;
    Ok(PyBytes::new(py, &k))
}

/// PKCS#8 PEM of a private scalar.
#[pyfunction]
pub fn private_key_pem(private_key: &[u8]) -> PyResult<String> {
    keys::private_key_pem(&fixed::<32>("private_key", private_key)?).map_err(PyValueError::new_err)
}

/// The measurement the monitor stores when it creates this ELF (`type`: 0 normal, 1 server,
/// 2 shadow template), with `nonce` at the end of the stream; the exception `Monitor.create`
/// raises (ValueError, or its subclass LimitError, with the monitor's reason) if it would refuse
/// the file or the parameters.
#[pyfunction]
#[pyo3(signature = (elf, *, r#type=0, stack_size=0x10000, shm=None, nonce=0))]
pub fn measure_elf<'py>(
    py: Python<'py>,
    elf: Vec<u8>,
    r#type: u32,
    stack_size: u64,
    shm: Option<Vec<u8>>,
    nonce: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    let h = py
        .detach(|| core_measure::measure_elf(&elf, r#type, stack_size, shm.as_deref(), nonce))
        .map_err(crate::error::create_error)?;
    Ok(PyBytes::new(py, &h))
}

/// SM3 of `data` with the monitor's implementation (the one the measurement stream uses).
#[pyfunction]
pub fn sm3<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &core_measure::sm3(data))
}

/// HKDF-SHA256 with the monitor's implementation (the one `get_key` uses): `length` bytes
/// (at most 8160) from `ikm`, `salt` (empty: none) and `info`.
#[pyfunction]
pub fn hkdf_sha256<'py>(py: Python<'py>, ikm: &[u8], salt: &[u8], info: &[u8], length: usize) -> PyResult<Bound<'py, PyBytes>> {
    let okm = core_attest::hkdf_sha256(ikm, salt, info, length)
        .ok_or_else(|| PyValueError::new_err(format!("length must be at most {}, not {length}", 255 * 32)))?;
    Ok(PyBytes::new(py, &okm))
}

fn scalars<'py>(py: Python<'py>, k: &Keys) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>, String) {
    (PyBytes::new(py, &k.device.to_bytes()), PyBytes::new(py, &k.sm.to_bytes()), k.origin.clone())
}

/// The documented fixed test keys: (device scalar, SM scalar, "test").
#[pyfunction]
pub fn test_keys(py: Python<'_>) -> (Bound<'_, PyBytes>, Bound<'_, PyBytes>, String) {
    scalars(py, &Keys::test())
}

/// The default keys (PLTVM_TEST_KEYS=1: the test set; else the per-user key file, created on
/// first use): (device scalar, SM scalar, origin).
#[pyfunction]
pub fn default_keys(py: Python<'_>) -> PyResult<(Bound<'_, PyBytes>, Bound<'_, PyBytes>, String)> {
    let k = py.detach(Keys::default_keys).map_err(PyRuntimeError::new_err)?;
    Ok(scalars(py, &k))
}

// Bodies of Monitor / Enclave methods.

pub fn set_keys(m: &core::Monitor, device_key: Option<&[u8]>, sm_key: Option<&[u8]>, test: bool) -> PyResult<()> {
    let keys = if test {
        if device_key.is_some() || sm_key.is_some() {
            return Err(PyValueError::new_err("give either test=True or the two keys"));
        }
        Keys::test()
    } else {
        let (Some(d), Some(s)) = (device_key, sm_key) else {
            return Err(PyValueError::new_err("set_keys needs device_key and sm_key (or test=True)"));
        };
        let d = keys::parse_private_key(d).map_err(|e| PyValueError::new_err(format!("device_key: {e}")))?;
        let s = keys::parse_private_key(s).map_err(|e| PyValueError::new_err(format!("sm_key: {e}")))?;
        Keys::from_scalars(&d, &s, "host").map_err(PyValueError::new_err)?
    };
    m.set_keys(keys);
    Ok(())
}

pub fn platform<'py>(py: Python<'py>, m: &core::Monitor) -> PyResult<Bound<'py, PyDict>> {
    let p = py.detach(|| m.platform()).map_err(PyRuntimeError::new_err)?;
    let d = PyDict::new(py);
    d.set_item("dev_pub_key", PyBytes::new(py, &p.dev_pub))?;
    d.set_item("sm_pub_key", PyBytes::new(py, &p.sm_pub))?;
    d.set_item("sm_hash", PyBytes::new(py, &p.sm_hash))?;
    d.set_item("sm_signature", PyBytes::new(py, &p.sm_signature))?;
    d.set_item("description", &p.description)?;
    d.set_item("origin", &p.keys.origin)?;
    Ok(d)
}

pub fn attest_hash<'py>(py: Python<'py>, m: &core::Monitor, stored: &[u8], nonce: u64) -> PyResult<Bound<'py, PyBytes>> {
    let stored = fixed::<32>("hash", stored)?;
    let r = py.detach(|| m.attest_hash(&stored, nonce)).map_err(PyRuntimeError::new_err)?;
    Ok(PyBytes::new(py, &r.to_bytes()))
}

pub fn attest<'py>(py: Python<'py>, m: &core::Monitor, cell: &EnclaveCell, nonce: u64) -> PyResult<Bound<'py, PyBytes>> {
    let r = py.detach(|| m.attest(cell, nonce)).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &r.to_bytes()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sm2_verify, m)?)?;
    m.add_function(wrap_pyfunction!(sm2_sign, m)?)?;
    m.add_function(wrap_pyfunction!(sm2_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(parse_private_key, m)?)?;
    m.add_function(wrap_pyfunction!(private_key_pem, m)?)?;
    m.add_function(wrap_pyfunction!(test_keys, m)?)?;
    m.add_function(wrap_pyfunction!(default_keys, m)?)?;
    m.add_function(wrap_pyfunction!(measure_elf, m)?)?;
    m.add_function(wrap_pyfunction!(sm3, m)?)?;
    m.add_function(wrap_pyfunction!(hkdf_sha256, m)?)?;
    Ok(())
}
