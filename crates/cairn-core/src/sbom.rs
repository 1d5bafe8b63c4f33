//! SBOM documents read as a stream into the components the index keeps.
//!
//! Understood: SPDX 2.x JSON (each package's `externalRefs` of type `purl`,
//! category `PACKAGE-MANAGER` or `PACKAGE_MANAGER`), CycloneDX 1.x JSON
//! (`components`, nested ones included, each by its `purl`), and either of
//! them as the predicate of an in-toto statement (an SBOM attestation).
//! Components without a purl, or with one that does not parse, are counted
//! as skipped; the same purl twice is kept once.
//!
//! The document is never held whole: serde reads it from a `Read` and keeps
//! only the purls. A guard in front of the parser refuses, as the bytes go
//! by, a string longer than [`Limits::max_string`] and nesting deeper than
//! [`Limits::max_depth`], so a hostile document costs bounded memory; a
//! document with more than [`Limits::max_components`] is refused too. A
//! refusal is all or nothing: the caller indexes only a complete result.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;

use crate::purl::Purl;
use crate::version_key::VersionKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    Spdx,
    CycloneDx,
}

impl SbomFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SbomFormat::Spdx => "spdx",
            SbomFormat::CycloneDx => "cyclonedx",
        }
    }
}

/// One component as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The purl as the document wrote it.
    pub purl: String,
    pub parsed: Purl,
    pub version_key: Option<VersionKey>,
}

#[derive(Debug, Clone)]
pub struct Sbom {
    pub format: SbomFormat,
    pub spec_version: String,
    pub components: Vec<Component>,
    /// Components without a usable purl.
    pub skipped: u64,
}

/// What a document may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_components: usize,
    pub max_depth: usize,
    pub max_string: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_components: 1_000_000,
            max_depth: 64,
            max_string: 1 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("not an SBOM cairn reads: {0}")]
    Unrecognised(String),
    #[error("malformed SBOM: {0}")]
    Malformed(String),
    #[error("SBOM refused: {0}")]
    Limit(String),
}

/// Media types and artifact types that say "this is an SBOM".
pub fn is_sbom_media_type(media_type: &str) -> bool {
    let base = media_type.split(';').next().unwrap_or("").trim();
    matches!(
        base,
        "application/spdx+json"
            | "text/spdx+json"
            | "application/vnd.spdx+json"
            | "application/vnd.cyclonedx+json"
            | "application/vnd.cyclonedx"
    )
}

/// Media types of signed attestations that may carry an SBOM: a Sigstore
/// bundle (cosign 3's default, as an OCI referrer) or a bare DSSE envelope
/// (cosign's `.att` layers).
pub fn is_attestation_media_type(media_type: &str) -> bool {
    let base = media_type.split(';').next().unwrap_or("").trim();
    base.starts_with("application/vnd.dev.sigstore.bundle")
        || base == "application/vnd.dsse.envelope.v1+json"
}

/// Whether an in-toto predicate type is an SBOM's (CycloneDX or SPDX).
pub fn is_sbom_predicate(predicate_type: &str) -> bool {
    predicate_type.starts_with("https://cyclonedx.org/bom")
        || predicate_type.starts_with("https://spdx.dev/Document")
}

/// The in-toto statement inside a Sigstore bundle's or a bare DSSE
/// envelope: the base64 payload, decoded. The signature is not checked here.
pub fn unwrap_attestation(bytes: &[u8]) -> Result<Vec<u8>, SbomError> {
    use base64::Engine;
    #[derive(serde::Deserialize)]
    struct Envelope {
        payload: String,
        #[serde(rename = "payloadType")]
        payload_type: String,
    }
    #[derive(serde::Deserialize)]
    struct Outer {
        #[serde(rename = "dsseEnvelope")]
        dsse: Option<Envelope>,
        payload: Option<String>,
        #[serde(rename = "payloadType")]
        payload_type: Option<String>,
    }
    let outer: Outer = serde_json::from_slice(bytes)
        .map_err(|e| SbomError::Malformed(format!("attestation: {e}")))?;
    let envelope = match (outer.dsse, outer.payload, outer.payload_type) {
        (Some(e), _, _) => e,
        (None, Some(payload), Some(payload_type)) => Envelope {
            payload,
            payload_type,
        },
        _ => {
            return Err(SbomError::Unrecognised(
                "neither a Sigstore bundle with a DSSE envelope nor a DSSE envelope".into(),
            ))
        }
    };
    if envelope.payload_type != "application/vnd.in-toto+json" {
        return Err(SbomError::Unrecognised(format!(
            "a {} payload, not an in-toto statement",
            envelope.payload_type
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(envelope.payload.as_bytes())
        .map_err(|e| SbomError::Malformed(format!("the envelope's payload is not base64: {e}")))
}

/// Reads one SBOM document from `reader`.
pub fn parse<R: Read>(reader: R, limits: Limits) -> Result<Sbom, SbomError> {
    let mut guard = Guard::new(reader, limits);
    let mut out = Collected::new(limits);
    let result = {
        let mut de = serde_json::Deserializer::from_reader(&mut guard);
        let r = DocSeed {
            out: &mut out,
            statement: true,
        }
        .deserialize(&mut de);
        r.and_then(|()| de.end())
    };
    if let Some(violation) = guard.violation.take() {
        return Err(SbomError::Limit(violation));
    }
    if let Some(limit) = out.over_limit.take() {
        return Err(SbomError::Limit(limit));
    }
    result.map_err(|e| SbomError::Malformed(e.to_string()))?;
    let (format, spec_version) = match (&out.spdx_version, &out.bom_format, &out.spec_version) {
        (Some(v), _, _) if v.starts_with("SPDX-2.") => (SbomFormat::Spdx, v.clone()),
        (Some(v), _, _) => {
            return Err(SbomError::Unrecognised(format!(
                "{v} (SPDX 2.x JSON is read)"
            )))
        }
        (None, Some(f), Some(v)) if f == "CycloneDX" && v.starts_with("1.") => {
            (SbomFormat::CycloneDx, v.clone())
        }
        (None, Some(f), v) => {
            return Err(SbomError::Unrecognised(format!(
                "bomFormat {f} specVersion {} (CycloneDX 1.x JSON is read)",
                v.as_deref().unwrap_or("missing")
            )))
        }
        _ => {
            return Err(SbomError::Unrecognised(
                "neither spdxVersion nor bomFormat: expected SPDX 2.x or CycloneDX 1.x JSON".into(),
            ))
        }
    };
    // A document of one format carrying the other's list is still read
    // for what its own format names.
    let components = match format {
        SbomFormat::Spdx => out.spdx,
        SbomFormat::CycloneDx => out.cyclonedx,
    };
    Ok(Sbom {
        format,
        spec_version,
        components,
        skipped: match format {
            SbomFormat::Spdx => out.spdx_skipped,
            SbomFormat::CycloneDx => out.cyclonedx_skipped,
        },
    })
}

/// What the visitors gather.
struct Collected {
    limits: Limits,
    spdx_version: Option<String>,
    bom_format: Option<String>,
    spec_version: Option<String>,
    spdx: Vec<Component>,
    cyclonedx: Vec<Component>,
    spdx_skipped: u64,
    cyclonedx_skipped: u64,
    seen: HashSet<(bool, Purl)>,
    over_limit: Option<String>,
}

impl Collected {
    fn new(limits: Limits) -> Collected {
        Collected {
            limits,
            spdx_version: None,
            bom_format: None,
            spec_version: None,
            spdx: Vec::new(),
            cyclonedx: Vec::new(),
            spdx_skipped: 0,
            cyclonedx_skipped: 0,
            seen: HashSet::new(),
            over_limit: None,
        }
    }

    /// Adds a component found by its purl; `Err` once past the limit.
    fn add<E: de::Error>(&mut self, spdx: bool, purl: Option<String>) -> Result<(), E> {
        let parsed = purl.as_deref().map(Purl::parse);
        match (purl, parsed) {
            (Some(text), Some(Ok(parsed))) => {
                if self.seen.insert((spdx, parsed.clone())) {
                    let list = if spdx {
                        &mut self.spdx
                    } else {
                        &mut self.cyclonedx
                    };
                    if list.len() >= self.limits.max_components {
                        let msg = format!("more than {} components", self.limits.max_components);
                        self.over_limit = Some(msg.clone());
                        return Err(E::custom(msg));
                    }
                    let version_key = parsed.version_key();
                    list.push(Component {
                        purl: text,
                        parsed,
                        version_key,
                    });
                }
            }
            _ if spdx => self.spdx_skipped += 1,
            _ => self.cyclonedx_skipped += 1,
        }
        Ok(())
    }
}

/// The document's top-level object (or an in-toto statement's predicate).
struct DocSeed<'a> {
    out: &'a mut Collected,
    statement: bool,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an SPDX or CycloneDX JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "spdxVersion" => self.out.spdx_version = Some(map.next_value()?),
                "bomFormat" => self.out.bom_format = Some(map.next_value()?),
                "specVersion" => self.out.spec_version = Some(map.next_value()?),
                "packages" => map.next_value_seed(ListSeed {
                    out: &mut *self.out,
                    spdx: true,
                    depth: 0,
                })?,
                "components" => map.next_value_seed(ListSeed {
                    out: &mut *self.out,
                    spdx: false,
                    depth: 0,
                })?,
                // An in-toto statement: the SBOM is its predicate.
                "predicate" if self.statement => map.next_value_seed(DocSeed {
                    out: &mut *self.out,
                    statement: false,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An array of SPDX packages or CycloneDX components.
struct ListSeed<'a> {
    out: &'a mut Collected,
    spdx: bool,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of packages or components")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(ItemSeed {
                out: &mut *self.out,
                spdx: self.spdx,
                depth: self.depth,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One SPDX package or CycloneDX component.
struct ItemSeed<'a> {
    out: &'a mut Collected,
    spdx: bool,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

#[derive(serde::Deserialize)]
struct ExternalRef {
    #[serde(rename = "referenceCategory", default)]
    category: String,
    #[serde(rename = "referenceType", default)]
    kind: String,
    #[serde(rename = "referenceLocator", default)]
    locator: String,
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a package or component object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut purls: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match (self.spdx, key.as_str()) {
                (true, "externalRefs") => {
                    for r in map.next_value::<Vec<ExternalRef>>()? {
                        let category = r.category.replace('_', "-");
                        if r.kind == "purl" && category == "PACKAGE-MANAGER" {
                            purls.push(r.locator);
                        }
                    }
                }
                (false, "purl") => purls.push(map.next_value()?),
                (false, "components") => map.next_value_seed(ListSeed {
                    out: &mut *self.out,
                    spdx: false,
                    depth: self.depth + 1,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if purls.is_empty() {
            return self.out.add(self.spdx, None);
        }
        for purl in purls {
            self.out.add(self.spdx, Some(purl))?;
        }
        Ok(())
    }
}

/// Watches the bytes on their way to the parser: a string longer than the
/// limit, or nesting deeper than it, stops the read.
struct Guard<R> {
    inner: R,
    limits: Limits,
    in_string: bool,
    escaped: bool,
    string_len: usize,
    depth: usize,
    violation: Option<String>,
}

impl<R: Read> Guard<R> {
    fn new(inner: R, limits: Limits) -> Guard<R> {
        Guard {
            inner,
            limits,
            in_string: false,
            escaped: false,
            string_len: 0,
            depth: 0,
            violation: None,
        }
    }

    fn refuse(&mut self, why: String) -> io::Error {
        self.violation = Some(why.clone());
        io::Error::new(io::ErrorKind::InvalidData, why)
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    continue;
                }
                self.string_len += 1;
                if self.string_len > self.limits.max_string {
                    let max = self.limits.max_string;
                    return Err(self.refuse(format!("a string longer than {max} bytes")));
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.string_len = 0;
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > self.limits.max_depth {
                        let max = self.limits.max_depth;
                        return Err(self.refuse(format!("nesting deeper than {max} levels")));
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(doc: &str) -> Result<Sbom, SbomError> {
        parse(doc.as_bytes(), Limits::default())
    }

    #[test]
    fn spdx_packages_by_their_purls() {
        let doc = r#"{"spdxVersion":"SPDX-2.3","name":"x","packages":[
          {"name":"log4j-core","versionInfo":"2.14.1","externalRefs":[
            {"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl",
             "referenceLocator":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
            {"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:apache"}]},
          {"name":"lodash","externalRefs":[{"referenceCategory":"PACKAGE_MANAGER","referenceType":"purl",
             "referenceLocator":"pkg:npm/lodash@4.17.20"}]},
          {"name":"no purl"},
          {"name":"again","externalRefs":[{"referenceCategory":"PACKAGE_MANAGER","referenceType":"purl",
             "referenceLocator":"pkg:npm/lodash@4.17.20"}]}]}"#;
        let sbom = read(doc).unwrap();
        assert_eq!(sbom.format, SbomFormat::Spdx);
        let names: Vec<_> = sbom
            .components
            .iter()
            .map(|c| c.parsed.name.as_str())
            .collect();
        assert_eq!(names, ["org.apache.logging.log4j/log4j-core", "lodash"]);
        assert_eq!(sbom.skipped, 1);
    }

    #[test]
    fn cyclonedx_nested_components_and_attestations() {
        let doc = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"component":{"purl":"pkg:oci/app"}},
          "components":[{"type":"library","purl":"pkg:pypi/Django@4.2.0","components":[
             {"purl":"pkg:cargo/serde@1.0.100"}]},{"type":"file","name":"x"}]}"#;
        let sbom = read(doc).unwrap();
        assert_eq!(sbom.format, SbomFormat::CycloneDx);
        assert_eq!(sbom.components.len(), 2);
        assert_eq!(sbom.skipped, 1);
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://cyclonedx.org/bom","subject":[],"predicate":{doc}}}"#
        );
        assert_eq!(read(&statement).unwrap().components.len(), 2);
    }

    #[test]
    fn attestations_unwrap_to_their_statement() {
        use base64::Engine;
        let statement = r#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cyclonedx.org/bom",
          "subject":[],"predicate":{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"purl":"pkg:npm/a@1.0.0"}]}}"#;
        let payload = base64::engine::general_purpose::STANDARD.encode(statement);
        let bundle = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{{"payload":"{payload}","payloadType":"application/vnd.in-toto+json","signatures":[]}}}}"#
        );
        let inner = unwrap_attestation(bundle.as_bytes()).unwrap();
        assert_eq!(
            read(std::str::from_utf8(&inner).unwrap())
                .unwrap()
                .components
                .len(),
            1
        );
        let dsse = format!(
            r#"{{"payload":"{payload}","payloadType":"application/vnd.in-toto+json","signatures":[]}}"#
        );
        assert_eq!(
            unwrap_attestation(dsse.as_bytes()).unwrap(),
            statement.as_bytes()
        );
        let other = r#"{"payload":"e30=","payloadType":"text/plain"}"#;
        assert!(matches!(
            unwrap_attestation(other.as_bytes()),
            Err(SbomError::Unrecognised(_))
        ));
        assert!(is_attestation_media_type(
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        ));
        assert!(is_sbom_predicate("https://spdx.dev/Document/v2.3"));
    }

    #[test]
    fn hostile_and_malformed_documents_are_refused() {
        let deep = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":{}{}}}"#,
            "[{\"components\":".repeat(100),
            "[]}]".repeat(100)
        );
        assert!(matches!(read(&deep), Err(SbomError::Limit(m)) if m.contains("nesting")));
        let long = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{{"description":"{}"}}]}}"#,
            "a".repeat(2 << 20)
        );
        assert!(matches!(read(&long), Err(SbomError::Limit(m)) if m.contains("string")));
        assert!(matches!(
            read(r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"purl":5}]}"#),
            Err(SbomError::Malformed(_))
        ));
        assert!(matches!(
            read(r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":["#),
            Err(SbomError::Malformed(_))
        ));
        assert!(matches!(
            read(r#"{"hello":"world"}"#),
            Err(SbomError::Unrecognised(_))
        ));
        let many = Limits {
            max_components: 2,
            ..Limits::default()
        };
        let doc = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"purl":"pkg:npm/a@1.0.0"},{"purl":"pkg:npm/b@1.0.0"},{"purl":"pkg:npm/c@1.0.0"}]}"#;
        assert!(matches!(
            parse(doc.as_bytes(), many),
            Err(SbomError::Limit(_))
        ));
    }
}
