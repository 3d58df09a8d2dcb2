//! Key epochs: how the relay makes every copy of an application unreadable on a
//! schedule, without relying on any disk, database or filesystem to erase bytes.
//!
//! Two one-way ratchets (HKDF-SHA256), each a chain of 32-byte seeds, one per epoch:
//! `seed[n+1] = HKDF-Expand(seed[n], "shinsei ratchet v1 next " ‖ chain)`. From a seed
//! one can derive every *later* epoch's keys, never an earlier one's. Only the oldest
//! seed still needed is kept (one file in `keys.key_dir`); when it is no longer needed
//! a file for the next needed epoch is written and the old one is overwritten, synced
//! and unlinked. Several nodes holding a copy of the same seed file derive the same
//! keys and each shreds its own copies on the same schedule: no key store that
//! remembers old keys, nothing in the database.
//!
//! - **`hpke` chain** (epoch `keys.hpke_epoch_secs`, default one day): the X25519 key
//!   tablets seal to. The secret of epoch `n` is `HKDF-Expand(seed[n], "shinsei ratchet
//!   v1 hpke")`. An envelope is accepted only under the key of its own `created_at`'s
//!   epoch, and `created_at` must be at most `max_age + max_future` old, so key `n` is
//!   destroyed at `(n+1)·E + max_age + max_future`: from then on no copy of an envelope
//!   sealed to it (a tablet's outbox remnant, a captured body) opens with any key that
//!   exists. Tablets learn the public keys from a schedule signed by the receipt key
//!   ([`shinsei_protocol::relay_keys`]).
//! - **`store` chain** (epoch `keys.store_epoch_secs`, default one hour): what the relay
//!   keeps at rest. An accepted application is stored as an AES-256-GCM record under
//!   the key of its *receipt* epoch ([`StoredRecord`]), never as the raw envelope and
//!   never in plaintext. Key `m` is destroyed at `(m+1)·E_s + retention`, when every
//!   record received in epoch `m` is past its deadline. Whatever copies of a record
//!   linger (sled's log, PostgreSQL heap and WAL, a dump, a file-system backup), none
//!   opens after `received_at + retention + E_s`, which configuration keeps ≤ 7 days.
//!
//! Pure parts (derivation, record format, which epoch is needed when) are free of I/O
//! and tested here; [`KeyDir`] holds the files.

use std::{
    collections::BTreeMap,
    fs,
    io::Write as _,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use ring::{
    aead::{self, Aad, LessSafeKey, Nonce, UnboundKey},
    hkdf,
    rand::{SecureRandom, SystemRandom},
};
use serde::{Deserialize, Serialize};
use shinsei_protocol::{
    application::Profile,
    envelope::EnvelopeId,
    keys::{KeyId, RelayPublicKey, RelaySecretKey},
    relay_keys::{RelayKeySchedule, ScheduledKey, MAX_KEYS},
};
use zeroize::Zeroizing;

/// A 32-byte ratchet seed.
pub type Seed = Zeroizing<[u8; 32]>;

/// Why key material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error("key directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {0} is not a valid ratchet seed file")]
    BadFile(PathBuf),
    #[error("key file {path} was made with epochs of {found} s but the configuration says {configured} s; keep the epoch length, or start a new key directory (old envelopes then no longer open)")]
    EpochLength {
        path: PathBuf,
        found: u64,
        configured: u64,
    },
    #[error("the system random number generator failed")]
    Rng,
    #[error("the key for epoch {0} has been destroyed or is not yet derivable")]
    NoKey(u64),
    #[error("stored record is malformed")]
    BadRecord,
    #[error("stored record does not open (wrong key or altered)")]
    Decrypt,
}

/// Reads a seed file, at most 4 KiB + 1 byte (a larger one is refused by the parser).
fn read_bounded(path: &Path) -> Result<Zeroizing<Vec<u8>>, EpochError> {
    use std::io::Read as _;
    let f = fs::File::open(path).map_err(|e| io(path, e))?;
    let mut b = Zeroizing::new(Vec::with_capacity(512));
    f.take(4097).read_to_end(&mut b).map_err(|e| io(path, e))?;
    Ok(b)
}

fn io(path: &Path, source: std::io::Error) -> EpochError {
    EpochError::Io {
        path: path.to_owned(),
        source,
    }
}

// -------------------------------------------------------------------------------------
// Pure derivation
// -------------------------------------------------------------------------------------

fn expand(seed: &[u8; 32], info: &[&[u8]]) -> Seed {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, seed);
    let mut out = Zeroizing::new([0u8; 32]);
    // HKDF-Expand of 32 bytes from a SHA-256 PRK cannot fail (length ≤ 255 · 32).
    if let Ok(okm) = prk.expand(info, hkdf::HKDF_SHA256) {
        let _ = okm.fill(&mut out[..]);
    }
    out
}

/// The next seed of a chain.
pub fn step(chain: &str, seed: &[u8; 32]) -> Seed {
    expand(seed, &[b"shinsei ratchet v1 next ", chain.as_bytes()])
}

/// The HPKE secret key of an `hpke`-chain seed.
pub fn hpke_secret(seed: &[u8; 32]) -> Option<RelaySecretKey> {
    let sk = expand(seed, &[b"shinsei ratchet v1 hpke"]);
    RelaySecretKey::from_secret_bytes(sk).ok()
}

/// The AES-256-GCM key of a `store`-chain seed.
pub fn store_key(seed: &[u8; 32]) -> Seed {
    expand(seed, &[b"shinsei ratchet v1 store"])
}

/// The oldest `hpke` epoch whose key may still be needed at `now`: a key is used only
/// for envelopes created in its epoch, and those are accepted for `accept_secs`
/// (`max_age + max_future`) after the epoch ends.
pub fn oldest_hpke_epoch(now: u64, epoch_secs: u64, accept_secs: u64) -> u64 {
    now.saturating_sub(accept_secs) / epoch_secs.max(1)
}

/// The oldest `store` epoch whose key may still be needed at `now`: records received
/// in epoch `m` are all past their deadline at `(m+1)·E_s + retention`.
pub fn oldest_store_epoch(now: u64, epoch_secs: u64, retention_secs: u64) -> u64 {
    now.saturating_sub(retention_secs) / epoch_secs.max(1)
}

/// One ratchet held in memory: the seed of its oldest needed epoch.
pub struct Chain {
    label: &'static str,
    epoch_secs: u64,
    oldest: u64,
    seed: Seed,
    /// Seeds derived forward from `seed` (epoch → seed), dropped when they fall behind.
    cache: BTreeMap<u64, Seed>,
}

/// Most ratchet steps one lookup may take (configuration keeps real use far below).
pub const MAX_STEPS: u64 = 200_000;

impl Chain {
    pub fn new(label: &'static str, epoch_secs: u64, oldest: u64, seed: Seed) -> Self {
        Self {
            label,
            epoch_secs,
            oldest,
            seed,
            cache: BTreeMap::new(),
        }
    }

    pub fn label(&self) -> &'static str {
        self.label
    }

    pub fn epoch_secs(&self) -> u64 {
        self.epoch_secs
    }

    /// The oldest epoch whose key still exists.
    pub fn oldest(&self) -> u64 {
        self.oldest
    }

    /// The seed of `epoch`, if it is not older than the oldest kept one.
    pub fn seed_at(&mut self, epoch: u64) -> Option<Seed> {
        if epoch < self.oldest || epoch - self.oldest > MAX_STEPS {
            return None;
        }
        if epoch == self.oldest {
            return Some(self.seed.clone());
        }
        if let Some(s) = self.cache.get(&epoch) {
            return Some(s.clone());
        }
        let (mut e, mut s) = match self.cache.range(..epoch).next_back() {
            Some((e, s)) => (*e, s.clone()),
            None => (self.oldest, self.seed.clone()),
        };
        while e < epoch {
            s = step(self.label, &s);
            e += 1;
        }
        // Keep the cache small: it is only a shortcut.
        if self.cache.len() >= 256 {
            self.cache.clear();
        }
        self.cache.insert(epoch, s.clone());
        Some(s)
    }

    /// Moves the chain forward to `target` (no-op if not newer). Returns the new seed.
    pub fn ratchet_to(&mut self, target: u64) -> Option<Seed> {
        if target <= self.oldest {
            return None;
        }
        let s = self.seed_at(target)?;
        self.seed = s.clone();
        self.oldest = target;
        self.cache = self.cache.split_off(&target);
        Some(s)
    }
}

// -------------------------------------------------------------------------------------
// At-rest record
// -------------------------------------------------------------------------------------

/// First four bytes of a stored record.
pub const RECORD_MAGIC: [u8; 4] = *b"SHST";
/// Record version.
pub const RECORD_VERSION: u8 = 1;
/// Bytes before the ciphertext: magic, version, epoch, profile, ciphertext length, nonce.
pub const RECORD_HEADER_LEN: usize = 4 + 1 + 8 + 1 + 4 + 12;

/// What the relay keeps at rest for an accepted application until it is forwarded:
///
/// ```text
/// record = "SHST" | version=1 | store_epoch u64 BE | profile u8 | ct_len u32 BE
///          | nonce[12] | AES-256-GCM(store key of the epoch, plaintext application v1)
/// aad    = record[0..14] | envelope_id[16]
/// ```
pub struct StoredRecord;

impl StoredRecord {
    /// Seals a plaintext application under `key` (the store key of `epoch`).
    pub fn seal(
        key: &[u8; 32],
        epoch: u64,
        id: &EnvelopeId,
        profile: Profile,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EpochError> {
        let k = LessSafeKey::new(
            UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| EpochError::BadRecord)?,
        );
        let ct_len = u32::try_from(plaintext.len() + 16).map_err(|_| EpochError::BadRecord)?;
        let mut nonce = [0u8; 12];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| EpochError::Rng)?;
        let mut out = Vec::with_capacity(RECORD_HEADER_LEN + plaintext.len() + 16);
        out.extend_from_slice(&RECORD_MAGIC);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&epoch.to_be_bytes());
        out.push(profile.to_byte());
        out.extend_from_slice(&ct_len.to_be_bytes());
        out.extend_from_slice(&nonce);
        let mut aad = out[..14].to_vec();
        aad.extend_from_slice(&id.0);
        let mut buf = Zeroizing::new(plaintext.to_vec());
        let tag = k
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut buf[..],
            )
            .map_err(|_| EpochError::BadRecord)?;
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// The epoch, profile and length of a record's header (no key needed).
    pub fn header(bytes: &[u8]) -> Result<(u64, Profile, usize), EpochError> {
        if bytes.len() < RECORD_HEADER_LEN || bytes[..4] != RECORD_MAGIC || bytes[4] != 1 {
            return Err(EpochError::BadRecord);
        }
        let epoch = u64::from_be_bytes(bytes[5..13].try_into().map_err(|_| EpochError::BadRecord)?);
        let profile = Profile::from_byte(bytes[13]).ok_or(EpochError::BadRecord)?;
        let ct_len = u32::from_be_bytes(
            bytes[14..18]
                .try_into()
                .map_err(|_| EpochError::BadRecord)?,
        );
        Ok((epoch, profile, RECORD_HEADER_LEN + ct_len as usize))
    }

    /// Opens a record (exactly one, nothing trailing) with `key`.
    pub fn open(
        key: &[u8; 32],
        id: &EnvelopeId,
        bytes: &[u8],
    ) -> Result<(Profile, Zeroizing<Vec<u8>>), EpochError> {
        let (_, profile, len) = Self::header(bytes)?;
        if bytes.len() != len || len < RECORD_HEADER_LEN + 16 {
            return Err(EpochError::BadRecord);
        }
        let k = LessSafeKey::new(
            UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| EpochError::BadRecord)?,
        );
        let nonce: [u8; 12] = bytes[18..30]
            .try_into()
            .map_err(|_| EpochError::BadRecord)?;
        let mut aad = bytes[..14].to_vec();
        aad.extend_from_slice(&id.0);
        let mut buf = Zeroizing::new(bytes[RECORD_HEADER_LEN..].to_vec());
        let n = k
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut buf[..],
            )
            .map_err(|_| EpochError::Decrypt)?
            .len();
        buf.truncate(n);
        Ok((profile, buf))
    }
}

// -------------------------------------------------------------------------------------
// Files
// -------------------------------------------------------------------------------------

/// The `format` of a seed file.
pub const SEED_FORMAT: &str = "shinsei-ratchet/v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    format: String,
    chain: String,
    epoch: u64,
    epoch_secs: u64,
    seed: String,
}

/// Parses a seed file of `chain` (at most 4 KiB of JSON, unknown fields refused):
/// `{"format":"shinsei-ratchet/v1","chain","epoch","epoch_secs","seed":"<base64, 32 bytes>"}`.
/// Returns (epoch, epoch_secs, seed).
#[allow(clippy::result_unit_err)]
pub fn parse_seed_file(bytes: &[u8], chain: &str) -> Result<(u64, u64, Seed), ()> {
    if bytes.len() > 4096 {
        return Err(());
    }
    let f: SeedFile = serde_json::from_slice(bytes).map_err(|_| ())?;
    let seed_b64 = Zeroizing::new(f.seed);
    if f.format != SEED_FORMAT || f.chain != chain || f.epoch_secs == 0 {
        return Err(());
    }
    let raw = Zeroizing::new(B64.decode(seed_b64.as_bytes()).map_err(|_| ())?);
    let mut seed = Zeroizing::new([0u8; 32]);
    if raw.len() != 32 {
        return Err(());
    }
    seed.copy_from_slice(&raw);
    Ok((f.epoch, f.epoch_secs, seed))
}

/// The directory of seed files: `<chain>-<epoch, 20 digits>.seed`, mode 0600, the
/// directory 0700. Never put it in a backup.
#[derive(Debug, Clone)]
pub struct KeyDir {
    dir: PathBuf,
}

fn sync_dir(p: &Path) -> Result<(), EpochError> {
    fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(p, e))
}

/// Overwrites a file in place with zeros, syncs it, unlinks it and syncs its directory.
/// Missing files are fine. The one place where the relay needs an in-place overwrite
/// to hold is this directory of small key files (see `relay/README.md`, "Erasure").
pub fn shred(path: &Path) -> Result<(), EpochError> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path, e)),
    };
    match fs::OpenOptions::new().write(true).open(path) {
        Ok(mut f) => {
            let zeros = vec![0u8; usize::try_from(len).unwrap_or(0).min(1 << 20)];
            f.write_all(&zeros)
                .and_then(|()| f.sync_all())
                .map_err(|e| io(path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path, e)),
    }
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path, e)),
    }
    if let Some(d) = path.parent() {
        sync_dir(d)?;
    }
    Ok(())
}

impl KeyDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, chain: &str, epoch: u64) -> PathBuf {
        self.dir.join(format!("{chain}-{epoch:020}.seed"))
    }

    /// Every seed file of `chain`: (epoch, path), oldest first.
    pub fn files(&self, chain: &str) -> Result<Vec<(u64, PathBuf)>, EpochError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let prefix = format!("{chain}-");
        let mut v = Vec::new();
        for e in rd {
            let e = e.map_err(|e| io(&self.dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(num) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".seed"))
            else {
                continue;
            };
            if let Ok(epoch) = num.parse::<u64>() {
                v.push((epoch, e.path()));
            }
        }
        v.sort();
        Ok(v)
    }

    fn read(&self, path: &Path, chain: &str, epoch_secs: u64) -> Result<(u64, Seed), EpochError> {
        let bytes = read_bounded(path)?;
        match parse_seed_file(&bytes, chain) {
            Ok((_, found, _)) if found != epoch_secs => Err(EpochError::EpochLength {
                path: path.to_owned(),
                found,
                configured: epoch_secs,
            }),
            Ok((epoch, _, seed)) => Ok((epoch, seed)),
            Err(()) => Err(EpochError::BadFile(path.to_owned())),
        }
    }

    /// Writes the seed of `epoch` (temporary file, fsync, then a hard link that fails
    /// if another node or process wrote it first, directory fsync). `Ok(false)` if a
    /// file for that epoch existed already.
    fn write(
        &self,
        chain: &str,
        epoch: u64,
        epoch_secs: u64,
        seed: &[u8; 32],
    ) -> Result<bool, EpochError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io(&self.dir, e))?;
        let f = SeedFile {
            format: SEED_FORMAT.into(),
            chain: chain.into(),
            epoch,
            epoch_secs,
            seed: B64.encode(seed),
        };
        let text = Zeroizing::new(
            serde_json::to_vec(&f).map_err(|_| EpochError::BadFile(self.dir.clone()))?,
        );
        drop(Zeroizing::new(f.seed));
        let mut nonce = [0u8; 8];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| EpochError::Rng)?;
        let tmp = self
            .dir
            .join(format!(".tmp-{chain}-{}", hex::encode(nonce)));
        let target = self.file(chain, epoch);
        let res = (|| {
            let mut fh = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io(&tmp, e))?;
            fh.write_all(&text)
                .and_then(|()| fh.sync_all())
                .map_err(|e| io(&tmp, e))?;
            match fs::hard_link(&tmp, &target) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io(&target, e)),
            }
        })();
        match res {
            // The temporary name is a second link to the new file: only unlink it.
            Ok(true) => fs::remove_file(&tmp).map_err(|e| io(&tmp, e))?,
            // Not linked: the temporary file is our own copy of a seed; shred it.
            _ => shred(&tmp)?,
        }
        sync_dir(&self.dir)?;
        res
    }

    /// Loads `chain`, creating a fresh random seed at `start_epoch` if the directory
    /// holds none. With several seed files the oldest wins (later ones derive from it).
    pub fn load_or_create(
        &self,
        chain: &'static str,
        epoch_secs: u64,
        start_epoch: u64,
    ) -> Result<Chain, EpochError> {
        loop {
            if let Some((_, path)) = self.files(chain)?.into_iter().next() {
                match self.read(&path, chain, epoch_secs) {
                    Ok((epoch, seed)) => return Ok(Chain::new(chain, epoch_secs, epoch, seed)),
                    // Shredded under our feet by another node sharing the directory.
                    Err(EpochError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        continue
                    }
                    Err(e) => return Err(e),
                }
            }
            let mut seed = Zeroizing::new([0u8; 32]);
            SystemRandom::new()
                .fill(&mut seed[..])
                .map_err(|_| EpochError::Rng)?;
            // Lost a race with another node creating the chain: load theirs.
            if self.write(chain, start_epoch, epoch_secs, &seed)? {
                return Ok(Chain::new(chain, epoch_secs, start_epoch, seed));
            }
        }
    }

    /// Ratchets `chain` forward to `target` on disk and in memory: writes the new
    /// oldest seed, then shreds every older seed file. Returns how many files were
    /// shredded.
    pub fn advance(&self, chain: &mut Chain, target: u64) -> Result<usize, EpochError> {
        if target > chain.oldest() {
            let Some(seed) = chain.seed_at(target) else {
                return Err(EpochError::NoKey(target));
            };
            self.write(chain.label(), target, chain.epoch_secs(), &seed)?;
            chain.ratchet_to(target);
        }
        let mut n = 0;
        for (epoch, path) in self.files(chain.label())? {
            if epoch < chain.oldest() {
                shred(&path)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

// -------------------------------------------------------------------------------------
// The relay's epoch keys
// -------------------------------------------------------------------------------------

/// Parameters of the two chains (from `[keys]`, `[clock]` and `[retention]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochParams {
    pub hpke_epoch_secs: u64,
    pub store_epoch_secs: u64,
    /// `max_age_secs + max_future_secs`.
    pub accept_secs: u64,
    pub retention_secs: u64,
    /// How far ahead the published schedule reaches.
    pub publish_ahead_secs: u64,
    /// How far in the future `created_at` may be.
    pub max_future_secs: u64,
}

/// What one [`EpochKeys::advance`] destroyed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdvanceReport {
    pub hpke_oldest: u64,
    pub store_oldest: u64,
    pub files_shredded: usize,
}

/// The relay's two chains and their directory.
pub struct EpochKeys {
    dir: KeyDir,
    params: EpochParams,
    hpke: Chain,
    store: Chain,
}

impl EpochKeys {
    /// Opens (or creates) the chains and moves them to what `now` needs.
    pub fn open(dir: KeyDir, params: EpochParams, now: u64) -> Result<Self, EpochError> {
        // A new chain starts at the current epoch: nothing older can exist.
        let hpke = dir.load_or_create(
            "hpke",
            params.hpke_epoch_secs,
            now / params.hpke_epoch_secs.max(1),
        )?;
        let store = dir.load_or_create(
            "store",
            params.store_epoch_secs,
            now / params.store_epoch_secs.max(1),
        )?;
        let mut k = Self {
            dir,
            params,
            hpke,
            store,
        };
        k.advance(now)?;
        Ok(k)
    }

    pub fn params(&self) -> &EpochParams {
        &self.params
    }

    pub fn dir(&self) -> &KeyDir {
        &self.dir
    }

    /// Destroys every key no longer needed at `now`.
    pub fn advance(&mut self, now: u64) -> Result<AdvanceReport, EpochError> {
        let p = self.params;
        let h = oldest_hpke_epoch(now, p.hpke_epoch_secs, p.accept_secs);
        let s = oldest_store_epoch(now, p.store_epoch_secs, p.retention_secs);
        let mut n = self.dir.advance(&mut self.hpke, h)?;
        n += self.dir.advance(&mut self.store, s)?;
        Ok(AdvanceReport {
            hpke_oldest: self.hpke.oldest(),
            store_oldest: self.store.oldest(),
            files_shredded: n,
        })
    }

    /// The HPKE epoch of a creation time.
    pub fn hpke_epoch_of(&self, t: u64) -> u64 {
        t / self.params.hpke_epoch_secs.max(1)
    }

    /// The HPKE secret key for envelopes created at `created_at`, if it exists.
    pub fn hpke_key_for(&mut self, created_at: u64) -> Option<RelaySecretKey> {
        let e = self.hpke_epoch_of(created_at);
        let seed = self.hpke.seed_at(e)?;
        hpke_secret(&seed)
    }

    /// The key ID tablets must use for envelopes created at `created_at`.
    pub fn hpke_key_id_for(&mut self, created_at: u64) -> Option<KeyId> {
        self.hpke_key_for(created_at).map(|k| k.key_id())
    }

    /// The schedule to publish at `now`: from the previous epoch to `now +
    /// publish_ahead_secs` (at most [`MAX_KEYS`] keys).
    pub fn schedule(&mut self, now: u64) -> RelayKeySchedule {
        let e = self.params.hpke_epoch_secs.max(1);
        let first = (now / e).saturating_sub(1).max(self.hpke.oldest());
        let last = (now.saturating_add(self.params.publish_ahead_secs) / e)
            .min(first + MAX_KEYS as u64 - 1);
        let mut keys = Vec::new();
        for epoch in first..=last {
            if let Some(seed) = self.hpke.seed_at(epoch) {
                if let Some(sk) = hpke_secret(&seed) {
                    keys.push(ScheduledKey {
                        epoch,
                        public: RelayPublicKey::from_bytes(*sk.public().as_bytes()),
                    });
                }
            }
        }
        RelayKeySchedule {
            issued_at: now,
            epoch_secs: e,
            keys,
        }
    }

    /// The store epoch of a receipt time.
    pub fn store_epoch_of(&self, t: u64) -> u64 {
        t / self.params.store_epoch_secs.max(1)
    }

    /// Seals an accepted application for storage, under the key of `received_at`'s epoch.
    pub fn seal_record(
        &mut self,
        received_at: u64,
        id: &EnvelopeId,
        profile: Profile,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EpochError> {
        let epoch = self.store_epoch_of(received_at);
        let seed = self.store.seed_at(epoch).ok_or(EpochError::NoKey(epoch))?;
        StoredRecord::seal(&store_key(&seed), epoch, id, profile, plaintext)
    }

    /// Opens a stored record, if its epoch's key still exists.
    pub fn open_record(
        &mut self,
        id: &EnvelopeId,
        bytes: &[u8],
    ) -> Result<(Profile, Zeroizing<Vec<u8>>), EpochError> {
        let (epoch, _, _) = StoredRecord::header(bytes)?;
        let seed = self.store.seed_at(epoch).ok_or(EpochError::NoKey(epoch))?;
        StoredRecord::open(&store_key(&seed), id, bytes)
    }

    /// Oldest epochs whose keys still exist: (hpke, store).
    pub fn oldest(&self) -> (u64, u64) {
        (self.hpke.oldest(), self.store.oldest())
    }
}

/// HPKE secret keys and store keys by epoch, as derived by [`keys_on_disk`].
pub type KeysOnDisk = (Vec<(u64, RelaySecretKey)>, Vec<(u64, Seed)>);

/// Every key that can be derived from the seed files present in `dir` right now, for
/// auditors and tests: HPKE secrets and store keys of every epoch from each file's
/// epoch up to `up_to_*` (inclusive). This is "every key that exists" on that disk.
pub fn keys_on_disk(
    dir: &Path,
    up_to_hpke: u64,
    up_to_store: u64,
) -> Result<KeysOnDisk, EpochError> {
    let kd = KeyDir::new(dir);
    let mut hpke = Vec::new();
    let mut store = Vec::new();
    let chains: [(&'static str, u64); 2] = [("hpke", up_to_hpke), ("store", up_to_store)];
    for (chain, up_to) in chains {
        for (_, path) in kd.files(chain)? {
            let bytes = read_bounded(&path)?;
            let (epoch, epoch_secs, seed) =
                parse_seed_file(&bytes, chain).map_err(|()| EpochError::BadFile(path.clone()))?;
            let mut c = Chain::new(chain, epoch_secs, epoch, seed);
            for e in epoch..=up_to.max(epoch) {
                if let Some(s) = c.seed_at(e) {
                    if chain == "hpke" {
                        if let Some(k) = hpke_secret(&s) {
                            hpke.push((e, k));
                        }
                    } else {
                        store.push((e, store_key(&s)));
                    }
                }
            }
        }
    }
    Ok((hpke, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratchet_goes_forward_only_and_matches_across_copies() {
        let seed = Zeroizing::new([7u8; 32]);
        let mut a = Chain::new("hpke", 10, 100, seed.clone());
        let mut b = Chain::new("hpke", 10, 100, seed);
        let s105 = a.seed_at(105).unwrap();
        assert!(a.seed_at(99).is_none());
        assert_eq!(b.ratchet_to(103).unwrap().len(), 32);
        assert_eq!(*b.seed_at(105).unwrap(), *s105);
        assert!(
            b.seed_at(102).is_none(),
            "an older seed is gone after ratcheting"
        );
        // Different chains with the same seed differ.
        let mut c = Chain::new("store", 10, 100, Zeroizing::new([7u8; 32]));
        assert_ne!(*c.seed_at(101).unwrap(), *a.seed_at(101).unwrap());
        // Known answer: the first step is fixed by the spec.
        assert_eq!(
            hex::encode(*step("hpke", &[0u8; 32])),
            hex::encode(*expand(&[0u8; 32], &[b"shinsei ratchet v1 next hpke"]))
        );
    }

    #[test]
    fn oldest_epoch_math() {
        // Day epochs, 73 h + 5 min acceptance: key of day n lives until the end of day
        // n plus the acceptance window.
        let e = 86_400;
        let a = 262_800 + 300;
        let n = 20_000u64;
        let end = (n + 1) * e;
        assert_eq!(oldest_hpke_epoch(end + a - 1, e, a), n);
        assert_eq!(oldest_hpke_epoch(end + a, e, a), n + 1);
        let es = 3_600;
        let r = 601_200;
        let m = 500_000u64;
        assert_eq!(oldest_store_epoch((m + 1) * es + r - 1, es, r), m);
        assert_eq!(oldest_store_epoch((m + 1) * es + r, es, r), m + 1);
    }

    #[test]
    fn record_round_trip_and_refusals() {
        let key = [3u8; 32];
        let id = EnvelopeId([9; 16]);
        let rec = StoredRecord::seal(&key, 42, &id, Profile::Express, b"plaintext").unwrap();
        assert_eq!(StoredRecord::header(&rec).unwrap().0, 42);
        let (p, pt) = StoredRecord::open(&key, &id, &rec).unwrap();
        assert_eq!(p, Profile::Express);
        assert_eq!(&pt[..], b"plaintext");
        assert!(matches!(
            StoredRecord::open(&[4u8; 32], &id, &rec),
            Err(EpochError::Decrypt)
        ));
        assert!(StoredRecord::open(&key, &EnvelopeId([8; 16]), &rec).is_err());
        let mut t = rec.clone();
        t[13] ^= 1;
        assert!(StoredRecord::open(&key, &id, &t).is_err());
        let mut t = rec.clone();
        t.push(0);
        assert!(StoredRecord::open(&key, &id, &t).is_err());
        assert!(StoredRecord::header(b"SHST").is_err());
    }

    #[test]
    fn files_advance_and_shred() {
        let d = tempfile::tempdir().unwrap();
        let kd = KeyDir::new(d.path().join("keys"));
        let p = EpochParams {
            hpke_epoch_secs: 10,
            store_epoch_secs: 5,
            accept_secs: 30,
            retention_secs: 60,
            publish_ahead_secs: 40,
            max_future_secs: 5,
        };
        let mut k = EpochKeys::open(kd.clone(), p, 1_000).unwrap();
        let id = EnvelopeId([1; 16]);
        let rec = k.seal_record(1_000, &id, Profile::Standard, b"x").unwrap();
        let pk = k.hpke_key_id_for(1_000).unwrap();
        let sched = k.schedule(1_000);
        assert!(sched.keys.iter().any(|s| s.public.key_id() == pk));
        // A second opener of the same directory derives the same keys.
        let mut k2 = EpochKeys::open(kd.clone(), p, 1_000).unwrap();
        assert_eq!(k2.hpke_key_id_for(1_000), Some(pk));
        assert!(k2.open_record(&id, &rec).is_ok());
        // Past the record's deadline (epoch 200 ends at 1005, + retention 60).
        let r = k.advance(1_065).unwrap();
        assert!(r.files_shredded >= 1);
        assert!(matches!(
            k.open_record(&id, &rec),
            Err(EpochError::NoKey(200))
        ));
        // Past the HPKE key's acceptance (epoch 100 ends at 1010, + 30).
        k.advance(1_040).unwrap();
        assert!(k.hpke_key_for(1_000).is_none());
        assert_eq!(kd.files("hpke").unwrap().len(), 1);
        assert_eq!(kd.files("store").unwrap().len(), 1);
        // What is on disk cannot open the old record.
        let (_, store) = keys_on_disk(kd.dir(), 200, 400).unwrap();
        assert!(store
            .iter()
            .all(|(_, key)| StoredRecord::open(key, &id, &rec).is_err()));
        // The epoch length is part of the chain.
        let mut p2 = p;
        p2.hpke_epoch_secs = 20;
        assert!(matches!(
            EpochKeys::open(kd, p2, 1_100),
            Err(EpochError::EpochLength { .. })
        ));
    }
}
