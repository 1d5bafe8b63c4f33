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

/// The texts of the elements at `wanted` paths (from the root element,
/// which must be `root`), read from an untrusted XML document: bounded in
/// size and depth, with any DOCTYPE refused. `what` names the document in
/// errors. Returns one slot per wanted path (the last text found there).
fn fields(
    bytes: &[u8],
    what: &str,
    root: &str,
    wanted: &[&[&str]],
) -> Result<Vec<Option<String>>, String> {
    if bytes.len() > MAX_POM {
        return Err(format!("the {what} is larger than {MAX_POM} bytes"));
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut found = vec![None; wanted.len()];
    let mut saw_root = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("the {what} is not well-formed XML: {e}"))?;
        match event {
            Event::DocType(_) => return Err(format!("a {what} may not have a DOCTYPE")),
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != root {
                        return Err(format!("the root element is <{name}>, not <{root}>"));
                    }
                    saw_root = true;
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(format!("the {what} is nested too deeply"));
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(i) = wanted.iter().position(|w| *w == at.as_slice()) {
                    let text = t
                        .unescape()
                        .map_err(|e| format!("the {what} has a bad character reference: {e}"))?;
                    found[i] = Some(text.trim().to_string());
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(format!("the {what} has no <{root}> element"));
    }
    Ok(found)
}

/// Parses the coordinates of a POM.
pub fn parse(bytes: &[u8]) -> Result<Pom, String> {
    let wanted: [&[&str]; 6] = [
        &["project", "groupId"],
        &["project", "artifactId"],
        &["project", "version"],
        &["project", "packaging"],
        &["project", "parent", "groupId"],
        &["project", "parent", "version"],
    ];
    let [group, artifact, version, packaging, parent_group, parent_version]: [Option<String>; 6] =
        fields(bytes, "POM", "project", &wanted)?
            .try_into()
            .map_err(|_| "internal: field count".to_string())?;
    Ok(Pom {
        group: group.or(parent_group),
        artifact,
        version: version.or(parent_version),
        packaging,
    })
}

/// What a Maven plugin's descriptor (`META-INF/maven/plugin.xml` in its
/// jar) says about invoking it by prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDescriptor {
    pub name: String,
    pub prefix: String,
}

/// Reads a plugin descriptor; `Ok(None)` when it names no goal prefix.
pub fn plugin_descriptor(bytes: &[u8]) -> Result<Option<PluginDescriptor>, String> {
    let wanted: [&[&str]; 2] = [&["plugin", "name"], &["plugin", "goalPrefix"]];
    let [name, prefix]: [Option<String>; 2] =
        fields(bytes, "plugin descriptor", "plugin", &wanted)?
            .try_into()
            .map_err(|_| "internal: field count".to_string())?;
    Ok(prefix
        .filter(|p| !p.is_empty())
        .map(|prefix| PluginDescriptor {
            name: name.unwrap_or_else(|| prefix.clone()),
            prefix,
        }))
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
    fn reads_a_plugin_descriptor() {
        let d = plugin_descriptor(b"<?xml version=\"1.0\"?><plugin><name>Hello Plugin</name><groupId>org.example</groupId><artifactId>hello-maven-plugin</artifactId><goalPrefix>hello</goalPrefix><mojos><mojo><goal>hi</goal></mojo></mojos></plugin>").unwrap();
        assert_eq!(
            d,
            Some(PluginDescriptor {
                name: "Hello Plugin".into(),
                prefix: "hello".into()
            })
        );
        assert_eq!(
            plugin_descriptor(b"<plugin><name>x</name></plugin>").unwrap(),
            None
        );
        assert!(plugin_descriptor(b"<project/>").is_err());
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
