//! Reading a POM as the untrusted XML it is: bounded in size and depth,
//! with any DOCTYPE refused (so no entity can expand), and only the
//! coordinates kept: groupId, artifactId, version and packaging, each
//! falling back to the parent's where Maven inherits it.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Largest POM read.
pub const MAX_POM: usize = 4 * 1024 * 1024;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pom {
    pub group: Option<String>,
    pub artifact: Option<String>,
    pub version: Option<String>,
    pub packaging: Option<String>,
}

/// Parses the coordinates of a POM.
pub fn parse(bytes: &[u8]) -> Result<Pom, String> {
    if bytes.len() > MAX_POM {
        return Err(format!("the POM is larger than {MAX_POM} bytes"));
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut own = Pom::default();
    let mut parent = Pom::default();
    let mut saw_project = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("the POM is not well-formed XML: {e}"))?;
        match event {
            Event::DocType(_) => return Err("a POM may not have a DOCTYPE".into()),
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "project" {
                        return Err(format!("the root element is <{name}>, not <project>"));
                    }
                    saw_project = true;
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err("the POM is nested too deeply".into());
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| format!("the POM has a bad character reference: {e}"))?
                    .trim()
                    .to_string();
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                let slot = match at.as_slice() {
                    ["project", "groupId"] => &mut own.group,
                    ["project", "artifactId"] => &mut own.artifact,
                    ["project", "version"] => &mut own.version,
                    ["project", "packaging"] => &mut own.packaging,
                    ["project", "parent", "groupId"] => &mut parent.group,
                    ["project", "parent", "version"] => &mut parent.version,
                    _ => continue,
                };
                *slot = Some(text);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_project {
        return Err("the POM has no <project> element".into());
    }
    Ok(Pom {
        group: own.group.or(parent.group),
        artifact: own.artifact,
        version: own.version.or(parent.version),
        packaging: own.packaging,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_coordinates_with_inheritance() {
        let pom = parse(b"<?xml version=\"1.0\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion><parent><groupId>org.example</groupId><artifactId>parent</artifactId><version>2.0</version></parent><artifactId>demo</artifactId><dependencies><dependency><groupId>x</groupId><version>9</version></dependency></dependencies></project>").unwrap();
        assert_eq!(pom.group.as_deref(), Some("org.example"));
        assert_eq!(pom.artifact.as_deref(), Some("demo"));
        assert_eq!(pom.version.as_deref(), Some("2.0"));
    }

    #[test]
    fn refuses_entities_and_junk() {
        let bomb = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><project><groupId>&lol2;</groupId></project>";
        assert!(parse(bomb).unwrap_err().contains("DOCTYPE"));
        assert!(parse(b"<project><groupId>a</artifactId></project>").is_err());
        assert!(parse(b"<settings/>").is_err());
        assert!(parse(b"").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
