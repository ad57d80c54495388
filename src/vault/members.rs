//! Member key slots of a team vault: how each member reaches the data key.
//!
//! A team vault has one random 32-byte data key and one X25519 *box key*
//! pair, whose secret half is sealed under the data key in `meta`. Each member
//! has an X25519 key pair: the secret half is sealed (crypto_secretbox) under
//! the member's Argon2id master key together with the vault's box public key,
//! and the data key is boxed (crypto_box, XSalsa20-Poly1305) from the vault's
//! box key to the member's public key. So any unlocked member can rekey: draw
//! a new data key and [`rebox`] it into every remaining slot without anyone's
//! password; and a member only ever accepts a data key boxed by the holder of
//! the box key their own password pinned.
//!
//! # Slot layout (`L` = byte length of the member name; `317 + 2L` bytes in all)
//! ```text
//! offset   length   field
//! 0        1        layout version (2)
//! 1        30       KDF header (KdfHeader::encode: alg, m, t, p, salt)
//! 31       32       the member's X25519 public key
//! 63       158+L    sealed secret key: nonce(24) ‖ secretbox under the master key of
//!                   "cvmsk002" ‖ secret key(32) ‖ KDF header(30) ‖ vault id(16) ‖
//!                   the vault's box public key(32) ‖ name
//! 221+L    96+L     data-key box: nonce(24) ‖ crypto_box from the vault's box key of
//!                   "cvmdk001" ‖ data key(32) ‖ vault id(16) ‖ name
//! ```
//! On open, the header is bounded before the KDF runs (an altered one is
//! [`VaultError::Corrupt`], never a huge allocation); a sealed part that fails
//! to open is [`VaultError::WrongPassword`] (as with `wrap_key`, an altered salt
//! or sealed part cannot be told from a wrong password); then the magic, the
//! header copy, vault id and name in both plaintexts, that the public key in
//! clear is the sealed secret key's, and that the box opens from the pinned
//! box key are checked: any mismatch is `Corrupt`.
//!
//! # Security notes
//! - **A database writer cannot hand a member a key.** The box must come from
//!   the vault's box key, pinned inside the member's password-sealed part;
//!   someone without the box key's secret (sealed under the data key) cannot
//!   make one that opens.
//! - **Removed members.** After a rekey, a removed member who kept their old
//!   slot bytes and password can still recover the *old* data key (what they
//!   could open cannot be taken back), so any copy of a record sealed under it
//!   stays readable to them: rotate those credentials at their providers.
//!   They also knew the box key; rekey keeps it (a new one could not be pinned
//!   in the others' slots without their passwords), so a removed member who can
//!   still *write* the database could box a key of their choosing to a member:
//!   revoke their database access when removing them.
//! - **The public key in clear is trusted by [`rebox`].** The rekeyer checks it
//!   against its pin (a keyed hash under the data key, see `membership.rs`) first.

use crypto_box::{PublicKey, SalsaBox, SecretKey, aead::Aead};
use zeroize::Zeroizing;

use crate::crypto::kdf::{self, HEADER_LEN, KdfHeader, KdfParams};
use crate::crypto::{CryptoError, random_bytes, seal};
use crate::error::VaultError;
use crate::secret::{Key32, SecretString};

const VERSION: u8 = 2;
const SK_MAGIC: &[u8; 8] = b"cvmsk002";
const BOX_MAGIC: &[u8; 8] = b"cvboxk01";
const DK_MAGIC: &[u8; 8] = b"cvmdk001";
const KEY: usize = 32;
const NONCE: usize = seal::NONCE_LEN;
const PK_AT: usize = 1 + HEADER_LEN;
const SEALED_AT: usize = PK_AT + KEY;
/// Sealed secret-key plaintext, less the name: magic, secret key, header,
/// vault id, the vault's box public key.
const SK_PLAIN: usize = 8 + KEY + HEADER_LEN + 16 + KEY;
/// Boxed data-key plaintext, less the name.
const DK_PLAIN: usize = 8 + KEY + 16;

/// crypto_box 0.9's `SecretKey` wipes its scalar on drop but not its copy of
/// the bytes: overwrite the whole value in place before it goes.
struct Sk(SecretKey);

impl Drop for Sk {
    fn drop(&mut self) {
        self.0 = SecretKey::from_bytes([0; KEY]);
        std::hint::black_box(&self.0);
    }
}

fn random_sk() -> Result<Sk, VaultError> {
    let mut bytes = Zeroizing::new([0u8; KEY]);
    random_bytes(&mut bytes[..])?;
    Ok(Sk(SecretKey::from_bytes(*bytes)))
}

/// The vault's box key pair: every slot's data key is boxed from it, and each
/// member's slot pins its public half under their own password. So only a
/// holder of the secret half (sealed under the data key in `meta`) can give a
/// member a data key: a database writer without it cannot plant one.
pub struct BoxKey(Sk);

impl BoxKey {
    /// A fresh pair (a new team vault).
    pub fn generate() -> Result<Self, VaultError> {
        Ok(Self(random_sk()?))
    }

    /// The secret half sealed under `seal_key` (for `meta`).
    pub fn sealed(&self, seal_key: &Key32) -> Result<Vec<u8>, VaultError> {
        let bytes = Zeroizing::new(self.0.0.to_bytes());
        let plain = Zeroizing::new([&BOX_MAGIC[..], &bytes[..]].concat());
        Ok(seal::seal(seal_key, &plain)?)
    }

    /// Opens [`Self::sealed`]'s output.
    pub fn open(seal_key: &Key32, sealed: &[u8]) -> Result<Self, VaultError> {
        let bad = || VaultError::Corrupt("the vault's box key is altered or foreign".into());
        let plain = seal::open(seal_key, sealed).map_err(|_| bad())?;
        if plain.len() != 8 + KEY || &plain[..8] != BOX_MAGIC {
            return Err(bad());
        }
        let sk = SecretKey::from_slice(&plain[8..]).map_err(|_| bad())?;
        Ok(Self(Sk(sk)))
    }
}

fn corrupt(member: &str, what: &str) -> VaultError {
    VaultError::Corrupt(format!("key slot of member {member}: {what}"))
}

/// A slot split into its parts; only the length, version and header are checked.
struct Parts<'a> {
    header: KdfHeader,
    header_bytes: &'a [u8],
    public: PublicKey,
    sealed: &'a [u8],
    boxed: &'a [u8],
}

fn header_of(slot: &[u8]) -> Result<(KdfHeader, &[u8]), String> {
    match slot.first() {
        Some(&VERSION) => {}
        Some(v) => return Err(format!("unknown layout version {v}")),
        None => return Err("empty".into()),
    }
    let bytes = slot.get(1..PK_AT).ok_or("truncated")?;
    let header = KdfHeader::decode(bytes).map_err(|e| format!("KDF header: {e}"))?;
    Ok((header, bytes))
}

fn split<'a>(slot: &'a [u8], member: &str) -> Result<Parts<'a>, VaultError> {
    let boxed_at = SEALED_AT + NONCE + SK_PLAIN + member.len() + seal::TAG_LEN;
    if slot.len() != boxed_at + NONCE + DK_PLAIN + member.len() + seal::TAG_LEN {
        return Err(corrupt(member, "wrong length (altered or another's)"));
    }
    let (header, header_bytes) = header_of(slot).map_err(|e| corrupt(member, &e))?;
    let public = PublicKey::from_slice(&slot[PK_AT..SEALED_AT])
        .map_err(|e| corrupt(member, &e.to_string()))?;
    Ok(Parts {
        header,
        header_bytes,
        public,
        sealed: &slot[SEALED_AT..boxed_at],
        boxed: &slot[boxed_at..],
    })
}

/// `nonce ‖ crypto_box(from the vault's box key, to the member,
/// DK_MAGIC ‖ data key ‖ vault id ‖ name)`.
fn box_data_key(
    to: &PublicKey,
    from: &BoxKey,
    data_key: &Key32,
    vault_id: &[u8; 16],
    member: &str,
) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE];
    random_bytes(&mut nonce)?;
    let plain = [
        DK_MAGIC,
        &data_key.expose()[..],
        vault_id,
        member.as_bytes(),
    ]
    .concat();
    let plain = Zeroizing::new(plain);
    let ct = SalsaBox::new(to, &from.0.0)
        .encrypt(&nonce.into(), plain.as_slice())
        .map_err(|_| CryptoError::DecryptionFailed)?;
    Ok([&nonce[..], &ct].concat())
}

/// A member's key slot as stored (opaque bytes; layout documented in the module doc).
pub fn new_slot(
    password: &SecretString,
    params: KdfParams,
    data_key: &Key32,
    box_key: &BoxKey,
    vault_id: &[u8; 16],
    member: &str,
) -> Result<Vec<u8>, VaultError> {
    let header = KdfHeader::generate(params)?;
    let header_bytes = header.encode();
    let master = kdf::derive_master_key(password, &header)?;
    let sk = random_sk()?;
    let public = sk.0.public_key();
    let sk_bytes = Zeroizing::new(sk.0.to_bytes());
    let vault_box = box_key.0.0.public_key();
    let parts = [
        SK_MAGIC,
        &sk_bytes[..],
        &header_bytes,
        vault_id,
        vault_box.as_bytes(),
        member.as_bytes(),
    ];
    let sealed = seal::seal(&master, &Zeroizing::new(parts.concat()))?;
    let boxed = box_data_key(&public, box_key, data_key, vault_id, member)?;
    let head = [VERSION];
    Ok([&head[..], &header_bytes, public.as_bytes(), &sealed, &boxed].concat())
}

/// Opens a slot with the member's password: the data key. Wrong password →
/// [`VaultError::WrongPassword`] (nothing else distinguishable); altered or
/// foreign slot, or a data key not boxed by the vault's box key →
/// [`VaultError::Corrupt`]. Exactly one KDF.
pub fn open_slot(
    slot: &[u8],
    password: &SecretString,
    vault_id: &[u8; 16],
    member: &str,
) -> Result<Key32, VaultError> {
    let parts = split(slot, member)?;
    let master = kdf::derive_master_key(password, &parts.header)?;
    let plain = seal::open(&master, parts.sealed).map_err(|e| match e {
        CryptoError::DecryptionFailed => VaultError::WrongPassword,
        other => VaultError::Crypto(other),
    })?;
    // Lengths are fixed by `split`: index within them.
    let bad = |what: &str| corrupt(member, what);
    let hdr_at = 8 + KEY;
    let vid_at = hdr_at + HEADER_LEN;
    let vbox_at = vid_at + 16;
    if plain.len() != SK_PLAIN + member.len()
        || &plain[..8] != SK_MAGIC
        || &plain[hdr_at..vid_at] != parts.header_bytes
    {
        return Err(bad("sealed key: unknown layout or another header"));
    }
    if &plain[vid_at..vbox_at] != vault_id || &plain[SK_PLAIN..] != member.as_bytes() {
        return Err(bad("secret key sealed for another vault or member"));
    }
    let sk = Sk(SecretKey::from_slice(&plain[8..hdr_at]).map_err(|_| bad("length"))?);
    if sk.0.public_key() != parts.public {
        return Err(bad("public key differs from the sealed secret key"));
    }
    // The vault's box key as pinned under this member's password.
    let vault_box = PublicKey::from_slice(&plain[vbox_at..SK_PLAIN]).map_err(|_| bad("length"))?;
    let nonce: [u8; NONCE] = parts.boxed[..NONCE].try_into().map_err(|_| bad("length"))?;
    let dk = SalsaBox::new(&vault_box, &sk.0)
        .decrypt(&nonce.into(), &parts.boxed[NONCE..])
        .map(Zeroizing::new)
        .map_err(|_| bad("the data key was not boxed by this vault's box key (planted?)"))?;
    if dk.len() != DK_PLAIN + member.len() || &dk[..8] != DK_MAGIC {
        return Err(bad("data key box has an unknown layout"));
    }
    if &dk[8 + KEY..DK_PLAIN] != vault_id || &dk[DK_PLAIN..] != member.as_bytes() {
        return Err(bad("data key boxed for another vault or member"));
    }
    Key32::from_slice(&dk[8..8 + KEY]).ok_or_else(|| bad("length"))
}

/// The same member's slot with `new_data_key` boxed instead (rekey): no
/// password, no KDF; the sealed secret key and KDF header are kept. Boxed to
/// the public key in the slot: the caller checks it against its pin first.
pub fn rebox(
    slot: &[u8],
    new_data_key: &Key32,
    box_key: &BoxKey,
    vault_id: &[u8; 16],
    member: &str,
) -> Result<Vec<u8>, VaultError> {
    let parts = split(slot, member)?;
    let kept = slot.len() - parts.boxed.len();
    let boxed = box_data_key(&parts.public, box_key, new_data_key, vault_id, member)?;
    Ok([&slot[..kept], &boxed].concat())
}

/// The KDF parameters a slot was made with (passwd keeps the cost unless asked).
pub fn slot_params(slot: &[u8]) -> Result<KdfParams, VaultError> {
    header_of(slot)
        .map(|(h, _)| h.params)
        .map_err(|e| VaultError::Corrupt(format!("key slot: {e}")))
}

/// The member's X25519 public key as the slot stores it (unauthenticated: for
/// the rekeyer to check against a pin before [`rebox`]).
pub fn slot_public_key(slot: &[u8], member: &str) -> Result<[u8; 32], VaultError> {
    Ok(split(slot, member)?.public.to_bytes())
}

/// Member names: 1..=64 chars of `[A-Za-z0-9._-]`, starting alphanumeric.
pub fn check_member_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "a member name has 1 to 64 characters (this one has {})",
            name.chars().count()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("a member name starts with a letter or digit".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("a member name has only letters, digits, '.', '_' and '-'".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams {
        m_kib: KdfParams::MIN_M_KIB,
        t: 1,
        p: 1,
    };
    const VID: [u8; 16] = [7; 16];

    fn vault_box() -> &'static BoxKey {
        static KEY: std::sync::OnceLock<BoxKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| BoxKey::generate().unwrap())
    }

    fn slot(dk: &Key32, member: &str) -> Vec<u8> {
        new_slot(&"pw".into(), CHEAP, dk, vault_box(), &VID, member).unwrap()
    }

    fn open(s: &[u8], pw: &str, vid: &[u8; 16], member: &str) -> Result<Key32, VaultError> {
        open_slot(s, &pw.into(), vid, member)
    }

    fn is_corrupt<T>(r: Result<T, VaultError>) -> bool {
        matches!(r, Err(VaultError::Corrupt(_)))
    }

    #[test]
    fn round_trip_and_wrong_password() {
        let dk = Key32::random().unwrap();
        let s = slot(&dk, "alice");
        assert_eq!(s.len(), 317 + 2 * 5);
        assert_eq!(open(&s, "pw", &VID, "alice").unwrap().expose(), dk.expose());
        let wrong = open(&s, "pw2", &VID, "alice");
        assert!(matches!(wrong, Err(VaultError::WrongPassword)));
        assert_eq!(slot_params(&s).unwrap(), CHEAP);
    }

    #[test]
    fn foreign_slot_is_corrupt() {
        let dk = Key32::random().unwrap();
        let (a, c) = (slot(&dk, "alice"), slot(&dk, "carol"));
        assert!(is_corrupt(open(&a, "pw", &VID, "carol")));
        assert!(is_corrupt(open(&a, "pw", &VID, "bob")));
        assert!(is_corrupt(open(&a, "pw", &[8; 16], "alice")));
        // alice's sealed key with carol's box (same length): not boxed to her
        let mut spliced = a.clone();
        spliced[221 + 5..].copy_from_slice(&c[221 + 5..]);
        assert!(is_corrupt(open(&spliced, "pw", &VID, "alice")));
        // a box made for another vault id
        let other = rebox(&a, &dk, vault_box(), &[8; 16], "alice").unwrap();
        assert!(is_corrupt(open(&other, "pw", &VID, "alice")));
        // a key boxed by anyone but the vault's box key (a database writer
        // with the public key in clear) is refused, never used
        let planted = rebox(&a, &dk, &BoxKey::generate().unwrap(), &VID, "alice").unwrap();
        assert!(is_corrupt(open(&planted, "pw", &VID, "alice")));
    }

    #[test]
    fn any_altered_byte_is_an_error() {
        let s = slot(&Key32::random().unwrap(), "al");
        for i in 0..s.len() {
            let mut bad = s.clone();
            bad[i] ^= 1;
            let r = open(&bad, "pw", &VID, "al");
            let clean = matches!(r, Err(VaultError::Corrupt(_) | VaultError::WrongPassword));
            assert!(clean, "byte {i}: {r:?}");
        }
        let longer = [&s[..], &[0]].concat();
        for bad in [&s[..s.len() - 1], &longer[..], &[][..], &s[..1]] {
            assert!(is_corrupt(open(bad, "pw", &VID, "al")));
        }
        let mut huge = s.clone();
        huge[1 + 4] = 0xff; // m_kib's top byte: over 4 GiB, refused before allocating
        assert!(is_corrupt(slot_params(&huge)));
        assert!(is_corrupt(open(&huge, "pw", &VID, "al")));
    }

    #[test]
    fn rebox_swaps_the_key_and_keeps_the_rest() {
        let (old, new) = (Key32::random().unwrap(), Key32::random().unwrap());
        let s = slot(&old, "bob");
        let r = rebox(&s, &new, vault_box(), &VID, "bob").unwrap();
        assert_eq!(r[..221 + 3], s[..221 + 3]);
        assert_eq!(slot_public_key(&r, "bob").unwrap(), s[31..63]);
        assert_eq!(open(&r, "pw", &VID, "bob").unwrap().expose(), new.expose());
        assert_eq!(open(&s, "pw", &VID, "bob").unwrap().expose(), old.expose());
        assert!(is_corrupt(rebox(&s, &new, vault_box(), &VID, "bobby")));
    }

    #[test]
    fn member_names() {
        let long = "x".repeat(64);
        for ok in ["a", "Alice", "bob.smith", "c_d-e", "9lives", &long] {
            assert!(check_member_name(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in ["", ".a", "-a", "_a", "a b", "a/b", "é", "a\n", &long] {
            assert!(check_member_name(bad).is_err(), "{bad:?}");
        }
    }
}
