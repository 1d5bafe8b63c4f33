//! Which backends to open, as plain typed settings (the server embeds these
//! in its configuration file under `[storage]`).

use serde::Deserialize;

/// `[storage]`: where blobs live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: BlobBackend,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    /// `<data_dir>/blobs` on the local filesystem (the embedded default).
    #[default]
    Filesystem,
    /// An S3-compatible bucket.
    S3,
}

/// `[storage.s3]`. Unset fields fall back to the standard `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, `AWS_ENDPOINT`, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket, so several deployments can share one.
    pub prefix: Option<String>,
    pub region: Option<String>,
    /// For S3-compatible stores (MinIO, Garage, Ceph RGW, moto): `http://host:port`.
    pub endpoint: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible stores need.
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Answer blob downloads with a 307 to a presigned URL, so bytes flow from
    /// the bucket (or its CDN) instead of through cairn.
    pub redirect_downloads: bool,
    /// Lifetime of those presigned URLs.
    pub redirect_ttl_secs: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            prefix: None,
            region: None,
            endpoint: None,
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            redirect_downloads: false,
            redirect_ttl_secs: 300,
        }
    }
}

impl S3Config {
    /// Builds the S3 client. Plain HTTP is allowed only when the endpoint is
    /// explicitly `http://`.
    pub fn client(&self) -> anyhow::Result<object_store::aws::AmazonS3> {
        use object_store::aws::AmazonS3Builder;
        anyhow::ensure!(
            !self.bucket.is_empty(),
            "storage.s3.bucket is required for the s3 backend"
        );
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&self.bucket);
        if let Some(region) = &self.region {
            b = b.with_region(region);
        }
        if let Some(endpoint) = &self.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if self.path_style {
            b = b.with_virtual_hosted_style_request(false);
        }
        if let Some(key) = &self.access_key_id {
            b = b.with_access_key_id(key);
        }
        if let Some(secret) = &self.secret_access_key {
            b = b.with_secret_access_key(secret);
        }
        Ok(b.build()?)
    }
}
