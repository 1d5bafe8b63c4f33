//! The lifecycle of a published package version, shared by every language
//! format. Adapters map their ecosystem's verbs onto [`Transition`]s (npm
//! deprecate, Cargo and PyPI yank, npm unpublish, Go retract); the rules of
//! what may happen live only here, and the store applies them inside the
//! transaction that makes the change.
//!
//! The promises: a `name@version` is published once and never again, not even
//! after it is unpublished (its row stays as a tombstone); yanked and
//! deprecated versions stay downloadable; unpublishing is allowed only by the
//! repository's policy, inside its window, and when nothing depends on the
//! package — or by an explicit, audited admin override.

use std::fmt;

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionState {
    Active,
    /// Not chosen for new resolutions; still downloadable by exact pin.
    Yanked,
    /// Still installable; clients show the message.
    Deprecated,
    /// Bytes no longer served; the version can never be published again.
    Unpublished,
}

impl VersionState {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Active => "active",
            VersionState::Yanked => "yanked",
            VersionState::Deprecated => "deprecated",
            VersionState::Unpublished => "unpublished",
        }
    }

    pub fn parse(s: &str) -> Option<VersionState> {
        [
            VersionState::Active,
            VersionState::Yanked,
            VersionState::Deprecated,
            VersionState::Unpublished,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether the version's files may be downloaded.
    pub fn serves_bytes(self) -> bool {
        self != VersionState::Unpublished
    }
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A requested change of a version's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Yank { reason: Option<String> },
    Unyank,
    Deprecate { message: String },
    Undeprecate,
    Unpublish,
}

impl Transition {
    /// The audit action name, e.g. `version.yank`.
    pub fn action(&self) -> &'static str {
        match self {
            Transition::Yank { .. } => "version.yank",
            Transition::Unyank => "version.unyank",
            Transition::Deprecate { .. } => "version.deprecate",
            Transition::Undeprecate => "version.undeprecate",
            Transition::Unpublish => "version.unpublish",
        }
    }
}

/// A repository's rules for pulling back releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// Whether unpublishing (deleting a version's bytes) is allowed at all.
    pub allow_unpublish: bool,
    /// How long after publishing a version may still be unpublished.
    pub unpublish_window_secs: i64,
    /// Maven Central's rule: a release (any version not ending in
    /// `-SNAPSHOT`) is never unpublished, not even by an administrator;
    /// it can only be deprecated.
    pub releases_permanent: bool,
}

impl Default for LifecyclePolicy {
    fn default() -> Self {
        LifecyclePolicy {
            allow_unpublish: true,
            unpublish_window_secs: 72 * 3600,
            releases_permanent: false,
        }
    }
}

/// Facts about the world an unpublish is checked against.
#[derive(Debug, Clone, Default)]
pub struct UnpublishFacts {
    /// Seconds since the epoch, now.
    pub now: i64,
    /// When the version was published.
    pub published_at: i64,
    /// Other packages (`name@version`) that depend on this package.
    pub dependents: Vec<String>,
    /// An administrator explicitly overrides the window and the dependents check.
    pub admin_override: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("version {version} of {package} already exists; a published version never changes: publish a new version")]
    VersionExists { package: String, version: String },
    #[error("version {version} of {package} was published before and unpublished; a version is never reused: publish a new version")]
    VersionTombstoned { package: String, version: String },
    #[error("file {filename} already exists or existed before; a file name is never reused: publish a new version")]
    FileExists { filename: String },
    #[error("unpublishing is disabled for this repository; deprecate or yank the version instead")]
    UnpublishForbidden,
    #[error("{package}@{version} was published {age_hours} hours ago; unpublishing is allowed only within {window_hours} hours of publishing. Deprecate or yank it instead (an administrator can override)")]
    WindowPassed {
        package: String,
        version: String,
        age_hours: i64,
        window_hours: i64,
    },
    #[error("{package}@{version} cannot be unpublished: other packages depend on it ({dependents}). Deprecate or yank it instead (an administrator can override)")]
    HasDependents {
        package: String,
        version: String,
        dependents: String,
    },
    #[error("{package}@{version} is unpublished; its state can no longer change")]
    AlreadyUnpublished { package: String, version: String },
    #[error(
        "{package} {version} is a release, and releases are permanent here: deprecate it instead"
    )]
    ReleasePermanent { package: String, version: String },
    #[error("no version {version} of {package}")]
    NoSuchVersion { package: String, version: String },
}

/// May `package@version` be published, given the state of that version if
/// it was ever published? Once published, never again.
pub fn check_publish(
    package: &str,
    version: &str,
    existing: Option<VersionState>,
) -> Result<(), LifecycleError> {
    let (package, version) = (package.to_string(), version.to_string());
    match existing {
        None => Ok(()),
        Some(VersionState::Unpublished) => {
            Err(LifecycleError::VersionTombstoned { package, version })
        }
        Some(_) => Err(LifecycleError::VersionExists { package, version }),
    }
}

/// May files be added to an existing version (PyPI: a wheel after the sdist)?
/// Only while the version is not unpublished, and only under file names that
/// never existed.
pub fn check_add_file(
    package: &str,
    version: &str,
    existing: Option<VersionState>,
    filename: &str,
    filename_existed: bool,
) -> Result<(), LifecycleError> {
    if filename_existed {
        return Err(LifecycleError::FileExists {
            filename: filename.to_string(),
        });
    }
    if existing == Some(VersionState::Unpublished) {
        return check_publish(package, version, existing);
    }
    Ok(())
}

/// Decides the state a version moves to under `transition`, or why not.
/// Yank/unyank and deprecate/undeprecate are always allowed (and idempotent);
/// unpublish is checked against `policy` and `facts`; nothing leaves
/// `Unpublished`.
pub fn check_transition(
    package: &str,
    version: &str,
    current: VersionState,
    transition: &Transition,
    policy: &LifecyclePolicy,
    facts: &UnpublishFacts,
) -> Result<VersionState, LifecycleError> {
    if current == VersionState::Unpublished {
        return Err(LifecycleError::AlreadyUnpublished {
            package: package.to_string(),
            version: version.to_string(),
        });
    }
    Ok(match transition {
        Transition::Yank { .. } => VersionState::Yanked,
        Transition::Deprecate { .. } => VersionState::Deprecated,
        Transition::Unyank | Transition::Undeprecate => VersionState::Active,
        Transition::Unpublish => {
            if policy.releases_permanent && !version.ends_with("-SNAPSHOT") {
                return Err(LifecycleError::ReleasePermanent {
                    package: package.to_string(),
                    version: version.to_string(),
                });
            }
            if !policy.allow_unpublish && !facts.admin_override {
                return Err(LifecycleError::UnpublishForbidden);
            }
            if !facts.admin_override {
                let age = facts.now - facts.published_at;
                if age >= policy.unpublish_window_secs {
                    return Err(LifecycleError::WindowPassed {
                        package: package.to_string(),
                        version: version.to_string(),
                        age_hours: age / 3600,
                        window_hours: policy.unpublish_window_secs / 3600,
                    });
                }
                if !facts.dependents.is_empty() {
                    return Err(LifecycleError::HasDependents {
                        package: package.to_string(),
                        version: version.to_string(),
                        dependents: facts.dependents.join(", "),
                    });
                }
            }
            VersionState::Unpublished
        }
    })
}

/// The message stored with a state: a yank reason or a deprecation message.
pub fn transition_message(transition: &Transition) -> Option<String> {
    match transition {
        Transition::Yank { reason } => reason.clone(),
        Transition::Deprecate { message } => Some(message.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR: i64 = 3600;

    fn facts(age: i64, dependents: &[&str], admin: bool) -> UnpublishFacts {
        UnpublishFacts {
            now: 1_000_000,
            published_at: 1_000_000 - age,
            dependents: dependents.iter().map(|s| s.to_string()).collect(),
            admin_override: admin,
        }
    }

    #[test]
    fn a_version_is_published_once() {
        assert!(check_publish("a", "1.0.0", None).is_ok());
        for s in [
            VersionState::Active,
            VersionState::Yanked,
            VersionState::Deprecated,
        ] {
            assert!(matches!(
                check_publish("a", "1.0.0", Some(s)),
                Err(LifecycleError::VersionExists { .. })
            ));
        }
        assert!(matches!(
            check_publish("a", "1.0.0", Some(VersionState::Unpublished)),
            Err(LifecycleError::VersionTombstoned { .. })
        ));
    }

    #[test]
    fn files_are_added_under_new_names_only() {
        assert!(check_add_file("a", "1", Some(VersionState::Active), "a.whl", false).is_ok());
        assert!(check_add_file("a", "1", Some(VersionState::Yanked), "a.whl", false).is_ok());
        assert!(matches!(
            check_add_file("a", "1", None, "a.whl", true),
            Err(LifecycleError::FileExists { .. })
        ));
        assert!(matches!(
            check_add_file("a", "1", Some(VersionState::Unpublished), "b.whl", false),
            Err(LifecycleError::VersionTombstoned { .. })
        ));
    }

    #[test]
    fn unpublish_policy() {
        let p = LifecyclePolicy::default();
        let t = Transition::Unpublish;
        let ok = check_transition(
            "a",
            "1",
            VersionState::Active,
            &t,
            &p,
            &facts(HOUR, &[], false),
        );
        assert_eq!(ok, Ok(VersionState::Unpublished));
        let late = check_transition(
            "a",
            "1",
            VersionState::Active,
            &t,
            &p,
            &facts(73 * HOUR, &[], false),
        );
        assert!(matches!(
            late,
            Err(LifecycleError::WindowPassed {
                age_hours: 73,
                window_hours: 72,
                ..
            })
        ));
        let used = check_transition(
            "a",
            "1",
            VersionState::Active,
            &t,
            &p,
            &facts(HOUR, &["b@2.0.0"], false),
        );
        let msg = used.unwrap_err().to_string();
        assert!(
            msg.contains("b@2.0.0") && msg.contains("Deprecate or yank"),
            "{msg}"
        );
        let forced = check_transition(
            "a",
            "1",
            VersionState::Deprecated,
            &t,
            &p,
            &facts(900 * HOUR, &["b@2"], true),
        );
        assert_eq!(forced, Ok(VersionState::Unpublished));
        let off = LifecyclePolicy {
            allow_unpublish: false,
            ..p
        };
        assert_eq!(
            check_transition(
                "a",
                "1",
                VersionState::Active,
                &t,
                &off,
                &facts(0, &[], false)
            ),
            Err(LifecycleError::UnpublishForbidden)
        );
    }

    #[test]
    fn yank_and_deprecate_round_trip() {
        let p = LifecyclePolicy::default();
        let f = facts(0, &[], false);
        let y = Transition::Yank { reason: None };
        assert_eq!(
            check_transition("a", "1", VersionState::Active, &y, &p, &f),
            Ok(VersionState::Yanked)
        );
        assert_eq!(
            check_transition("a", "1", VersionState::Yanked, &Transition::Unyank, &p, &f),
            Ok(VersionState::Active)
        );
        let d = Transition::Deprecate {
            message: "use b".into(),
        };
        assert_eq!(
            check_transition("a", "1", VersionState::Active, &d, &p, &f),
            Ok(VersionState::Deprecated)
        );
        assert_eq!(transition_message(&d).as_deref(), Some("use b"));
    }

    fn any_transition() -> impl Strategy<Value = Transition> {
        prop_oneof![
            Just(Transition::Yank { reason: None }),
            Just(Transition::Unyank),
            Just(Transition::Deprecate {
                message: "m".into()
            }),
            Just(Transition::Undeprecate),
            Just(Transition::Unpublish),
        ]
    }

    proptest! {
        /// Whatever sequence of transitions is tried, once unpublished a
        /// version never changes again and can never be published again.
        #[test]
        fn unpublished_is_final(seq in proptest::collection::vec((any_transition(), any::<bool>(), 0i64..200), 0..20)) {
            let p = LifecyclePolicy::default();
            let mut state = VersionState::Active;
            let mut unpublished = false;
            for (t, admin, age_hours) in seq {
                let f = facts(age_hours * HOUR, &[], admin);
                if let Ok(next) = check_transition("a", "1", state, &t, &p, &f) {
                    prop_assert!(!unpublished, "a change after unpublish");
                    state = next;
                    unpublished |= next == VersionState::Unpublished;
                }
                prop_assert!(check_publish("a", "1", Some(state)).is_err());
            }
        }
    }
}
