//! What every identity provider's sign-in shares: which names can be cairn
//! users, and how the provider's groups become cairn groups.

use std::collections::BTreeMap;

/// Whether an identity provider's name for a person can be a cairn user
/// name: credentials carry it before a `:`, logs and audit entries print it.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
}

/// The cairn groups `map` (provider group -> cairn groups) gives for the
/// provider's groups `theirs`, sorted, each once. Groups not in the map
/// give nothing.
pub fn map_groups<'a>(
    map: &BTreeMap<String, Vec<String>>,
    theirs: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut ours: Vec<String> = theirs
        .into_iter()
        .filter_map(|g| map.get(g))
        .flatten()
        .cloned()
        .collect();
    ours.sort();
    ours.dedup();
    ours
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_mapped_and_unlisted_ones_give_nothing() {
        let map = BTreeMap::from([
            (
                "registry-admins".to_string(),
                vec!["admins".to_string(), "devs".to_string()],
            ),
            ("eng".to_string(), vec!["devs".to_string()]),
        ]);
        assert_eq!(
            map_groups(&map, ["eng", "registry-admins", "sales"]),
            vec!["admins", "devs"]
        );
        assert!(map_groups(&map, ["sales"]).is_empty());
    }

    #[test]
    fn names_that_cannot_be_credentials_are_refused() {
        assert!(valid_user_name("olivia"));
        assert!(valid_user_name("o.lee@example.com"));
        for bad in ["a:b", "a b", "", "a\u{0}b", &"x".repeat(129)] {
            assert!(!valid_user_name(bad), "{bad:?}");
        }
    }
}
