//! Fills shared across replicas as they arrive.
//!
//! On a store several replicas share, one replica at a time fills an
//! uncached file (the lease in the database). Without peers, a replica whose
//! client asks meanwhile waits for the fill to be stored, then serves it.
//! With peers configured (`[cluster] advertise_url` and a shared secret),
//! the lease names the holder's address, and the waiting replica streams the
//! fill in progress from the holder (`GET /_cairn/fill`, the secret in a
//! header): its clients get the bytes as they arrive, checked against the
//! same hash the holder checks them against, and nothing is stored twice. If
//! the holder goes away mid-stream, the waiting replica takes the fill over
//! once the lease lapses, refetching from the upstream; its clients keep
//! reading where they were (the bytes are the same object, verified again).

use sha2::Digest as _;

/// The path a replica serves its fills in progress at.
pub const FILL_PATH: &str = "/_cairn/fill";

/// The header carrying the cluster's shared secret.
pub const SECRET_HEADER: &str = "x-cairn-cluster-secret";

/// How this replica is reached by the others, and the secret they share.
pub struct Peers {
    advertise: String,
    secret_hash: [u8; 32],
    secret: String,
    pub(crate) client: reqwest::Client,
}

impl Peers {
    pub fn new(advertise_url: &str, secret: &str) -> Result<Peers, String> {
        let url = reqwest::Url::parse(advertise_url)
            .map_err(|e| format!("cluster.advertise_url {advertise_url:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "cluster.advertise_url {advertise_url:?}: an http(s) URL with a host"
            ));
        }
        if secret.len() < 16 {
            return Err("the cluster secret must be at least 16 characters".into());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Peers {
            advertise: advertise_url.trim_end_matches('/').to_string(),
            secret_hash: sha2::Sha256::digest(secret.as_bytes()).into(),
            secret: secret.to_string(),
            client,
        })
    }

    /// Whether a request presented the cluster's secret (compared as
    /// hashes, so the time taken says nothing about it).
    pub fn admits(&self, presented: Option<&str>) -> bool {
        let Some(p) = presented else { return false };
        let h: [u8; 32] = sha2::Sha256::digest(p.as_bytes()).into();
        h.iter()
            .zip(self.secret_hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// This replica's name in fill leases: a process id and its address.
    pub(crate) fn owner(&self, id: &str) -> String {
        format!("{id} {}", self.advertise)
    }

    /// A request for the fill of `key` of `repository` at the replica
    /// `owner` names, if it names one.
    pub(crate) fn request(
        &self,
        owner: &str,
        repository: &str,
        key: &str,
    ) -> Option<reqwest::RequestBuilder> {
        let (_, base) = owner.split_once(' ')?;
        let mut url = reqwest::Url::parse(&format!("{base}{FILL_PATH}")).ok()?;
        url.query_pairs_mut()
            .append_pair("repository", repository)
            .append_pair("key", key);
        Some(self.client.get(url).header(SECRET_HEADER, &self.secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_checked_and_owners_name_addresses() {
        let p = Peers::new("http://10.0.0.5:5000/", "a-long-enough-secret").unwrap();
        assert!(p.admits(Some("a-long-enough-secret")));
        assert!(!p.admits(Some("a-long-enough-secreT")));
        assert!(!p.admits(None));
        let owner = p.owner("abc");
        assert_eq!(owner, "abc http://10.0.0.5:5000");
        let req = p
            .request(&owner, "npm/npmjs", "tarball/a/a-1.0.0.tgz")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "http://10.0.0.5:5000/_cairn/fill?repository=npm%2Fnpmjs&key=tarball%2Fa%2Fa-1.0.0.tgz"
        );
        assert!(
            p.request("abc", "npm/npmjs", "k").is_none(),
            "an owner without an address"
        );
        assert!(Peers::new("10.0.0.5:5000", "a-long-enough-secret").is_err());
        assert!(Peers::new("http://10.0.0.5:5000", "short").is_err());
    }
}
