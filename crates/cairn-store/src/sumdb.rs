//! The checksum database of hosted Go modules: an append-only log of
//! go.sum records per repository (see `cairn_core::tlog` for its hashes and
//! notes, and the Go adapter for the protocol). Record ids are dense from 0,
//! so a tree of size N is records 0..N-1 on every replica.

use crate::StoreError;
use async_trait::async_trait;

#[async_trait]
pub trait SumdbStore: Send + Sync + 'static {
    /// The record id of `module@version` in `repository`'s log, appending
    /// `data` (its go.sum lines) as the next record if it is not there yet.
    /// Concurrent appends on any replica get distinct, dense ids.
    async fn sumdb_record(
        &self,
        repository: &str,
        module: &str,
        version: &str,
        data: &str,
    ) -> Result<i64, StoreError>;

    /// How many records `repository`'s log holds.
    async fn sumdb_size(&self, repository: &str) -> Result<i64, StoreError>;

    /// The texts of records `start..start + count` (fewer at the end).
    async fn sumdb_records(
        &self,
        repository: &str,
        start: i64,
        count: i64,
    ) -> Result<Vec<String>, StoreError>;
}
