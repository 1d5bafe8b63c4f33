//! The Go checksum database's transparency log, as golang.org/x/mod's
//! `sumdb/tlog` and `sumdb/note` define it: record and node hashes (RFC
//! 6962), the tree hash of any size, the hashes a tile lists, tile paths
//! (`tile/H/L/NNN[.p/W]`, `tile/H/data/…`), the signed tree note, and the
//! verifier key the go command is given in `GOSUMDB`. Pure: the caller
//! keeps the records and signs with its key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest as _, Sha256};

pub type Hash = [u8; 32];

/// The hash of a record: SHA-256 of 0x00 and the record's text.
pub fn record_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256 of 0x01, left, right.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the complete subtree of height `level` whose leaves are
/// `leaves[index << level .. (index + 1) << level]` (all present).
pub fn subtree_hash(leaves: &[Hash], level: u32, index: u64) -> Hash {
    if level == 0 {
        return leaves[index as usize];
    }
    node_hash(
        &subtree_hash(leaves, level - 1, 2 * index),
        &subtree_hash(leaves, level - 1, 2 * index + 1),
    )
}

/// The tree hash of the log of these records (RFC 6962's MTH; all zeros
/// for the empty log, as tlog has it).
pub fn tree_hash(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => [0u8; 32],
        1 => leaves[0],
        n => {
            // The largest power of two below n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// A tile: `w` hashes at level `h * l` starting at index `n << h` (or, at
/// `l == -1`, the data of records `n << h ..`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub h: u32,
    pub l: i32,
    pub n: u64,
    pub w: u32,
}

/// Reads `tile/H/L/NNN[.p/W]` (`L` is `data` for record tiles).
pub fn parse_tile(path: &str) -> Option<Tile> {
    let mut parts: Vec<&str> = path.strip_prefix("tile/")?.split('/').collect();
    if parts.len() < 3 {
        return None;
    }
    let h: u32 = parts[0].parse().ok().filter(|h| (1..=30).contains(h))?;
    let l: i32 = match parts[1] {
        "data" => -1,
        l => l.parse().ok().filter(|l| (0..=63).contains(l))?,
    };
    let mut w = 1u32 << h;
    if parts.len() >= 4 && parts[parts.len() - 2].ends_with(".p") {
        let width: u32 = parts.pop()?.parse().ok()?;
        if width == 0 || width >= w {
            return None;
        }
        w = width;
        let last = parts.pop()?;
        parts.push(last.strip_suffix(".p")?);
    }
    let digits = &parts[2..];
    let mut n: u64 = 0;
    for (i, d) in digits.iter().enumerate() {
        let d = if i + 1 < digits.len() {
            d.strip_prefix('x')?
        } else {
            d
        };
        if d.len() != 3 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(d.parse::<u64>().ok()?)?;
    }
    Some(Tile { h, l, n, w })
}

impl Tile {
    /// Whether a log of `size` records has every entry of this tile.
    pub fn within(&self, size: u64) -> bool {
        let level = if self.l < 0 {
            0
        } else {
            self.h * self.l as u32
        };
        let end = (self.n << self.h) + u64::from(self.w);
        end.checked_shl(level)
            .is_some_and(|e| e >> level == end && e <= size)
    }

    /// The tile's hash data over these records' hashes (`within` first).
    pub fn hash_data(&self, leaves: &[Hash]) -> Vec<u8> {
        let level = self.h * self.l as u32;
        let start = self.n << self.h;
        (0..u64::from(self.w))
            .flat_map(|i| subtree_hash(leaves, level, start + i))
            .collect()
    }
}

/// The text of the signed tree note for a log of `size` records.
pub fn tree_note_text(size: u64, root: &Hash) -> String {
    format!("go.sum database tree\n{size}\n{}\n", STANDARD.encode(root))
}

/// The key hash of note signatures: the first four bytes of SHA-256 over
/// the name, a newline and the encoded key (0x01 and the Ed25519 key).
pub fn key_hash(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([1u8]);
    h.update(public);
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// `GOSUMDB`'s verifier key: `name+hash+base64(0x01 ‖ key)`.
pub fn verifier_key(name: &str, public: &[u8; 32]) -> String {
    let mut key = vec![1u8];
    key.extend_from_slice(public);
    format!(
        "{name}+{:08x}+{}",
        key_hash(name, public),
        STANDARD.encode(key)
    )
}

/// A signed note: the text, a blank line, and the signature line.
pub fn signed_note(text: &str, name: &str, public: &[u8; 32], signature: &[u8]) -> String {
    let mut sig = key_hash(name, public).to_be_bytes().to_vec();
    sig.extend_from_slice(signature);
    format!("{text}\n— {name} {}\n", STANDARD.encode(sig))
}

/// A note signer: a name and an Ed25519 key (its 32-byte seed).
pub struct NoteSigner {
    pub name: String,
    pair: ring::signature::Ed25519KeyPair,
    public: [u8; 32],
}

impl NoteSigner {
    pub fn new(name: &str, seed: &[u8; 32]) -> NoteSigner {
        use ring::signature::KeyPair;
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .expect("any 32 bytes are an Ed25519 seed");
        let public = pair
            .public_key()
            .as_ref()
            .try_into()
            .expect("Ed25519 public keys are 32 bytes");
        NoteSigner {
            name: name.to_string(),
            pair,
            public,
        }
    }

    /// `GOSUMDB`'s value for this signer.
    pub fn verifier_key(&self) -> String {
        verifier_key(&self.name, &self.public)
    }

    /// `text` (ending in a newline) signed: the same bytes on every replica.
    pub fn sign(&self, text: &str) -> String {
        let sig = self.pair.sign(text.as_bytes());
        signed_note(text, &self.name, &self.public, sig.as_ref())
    }
}

/// Whether `name` may name a checksum database (a note signer).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && c != '+' && !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: tlog's tree hash, computed as it does (from the
    /// stored hashes of maximal complete subtrees, right to left).
    fn reference_tree_hash(leaves: &[Hash]) -> Hash {
        let n = leaves.len() as u64;
        let mut hashes = Vec::new();
        let mut start = 0u64;
        for level in (0..64).rev() {
            if n & (1 << level) != 0 {
                hashes.push(subtree_hash(leaves, level, start >> level));
                start += 1 << level;
            }
        }
        let mut h = hashes.pop().unwrap_or([0; 32]);
        while let Some(left) = hashes.pop() {
            h = node_hash(&left, &h);
        }
        h
    }

    #[test]
    fn tree_hashes_agree_with_tlogs_definition() {
        let leaves: Vec<Hash> = (0..70u32)
            .map(|i| record_hash(format!("r{i}\n").as_bytes()))
            .collect();
        for n in 0..=70 {
            assert_eq!(
                tree_hash(&leaves[..n]),
                reference_tree_hash(&leaves[..n]),
                "n={n}"
            );
        }
    }

    #[test]
    fn tile_paths() {
        assert_eq!(
            parse_tile("tile/3/4/x001/x234/067.p/1"),
            Some(Tile {
                h: 3,
                l: 4,
                n: 1234067,
                w: 1
            })
        );
        assert_eq!(
            parse_tile("tile/8/0/000"),
            Some(Tile {
                h: 8,
                l: 0,
                n: 0,
                w: 256
            })
        );
        assert_eq!(
            parse_tile("tile/8/data/001.p/5"),
            Some(Tile {
                h: 8,
                l: -1,
                n: 1,
                w: 5
            })
        );
        for bad in [
            "tile/8/0/1",
            "tile/8/0/000.p/256",
            "tile/8/0/000.p/0",
            "tile/0/0/000",
            "tile/8/x/000",
            "tile/8/0/001/002",
            "tiles/8/0/000",
        ] {
            assert_eq!(parse_tile(bad), None, "{bad}");
        }
        let t = parse_tile("tile/8/0/000.p/5").unwrap();
        assert!(t.within(5) && !t.within(4));
        let t = parse_tile("tile/8/1/000.p/1").unwrap();
        assert!(t.within(256) && !t.within(255));
    }

    #[test]
    fn keys_and_notes_match_golang_org_x_mod_sumdb_note() {
        // The note package's own example: its private key, verifier key
        // and signed note.
        let seed = STANDARD
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        let signer = NoteSigner::new("PeterNeumann", &seed[1..].try_into().unwrap());
        assert_eq!(
            signer.verifier_key(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        assert_eq!(
            signer.sign(text),
            format!("{text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
        );
        assert!(valid_name("sum.example.com") && !valid_name("a b") && !valid_name("a+b"));
    }
}
