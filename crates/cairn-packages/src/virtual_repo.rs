//! Virtual repositories: one URL over an ordered list of hosted and proxy
//! members of one format. What every language adapter's `virtual.rs`
//! shares: the members, which of them one name is asked of (the
//! name-ownership rule, members' filters, the caller's access to each), the
//! cooldown on fresh upstream versions, and the one way a refusal is
//! worded, logged and counted. The decisions themselves are the core's
//! (`cairn_core::routing`); listings and downloads both come through
//! [`Packages::plan`] and [`Plan::cooldown`], so they decide alike.

use crate::{PackageError, PackageResult, Packages, Request};
use cairn_core::routing::UnknownAge;
use cairn_core::routing::{human_secs, Cooldown, Held, NamePatterns, Owner, Ownership, Sources};
use cairn_core::{Action, Format, PackageRef};
use cairn_http::Access;
use cairn_proxy::{Document, Proxy, Refresh};
use serde::Deserialize;
use std::sync::Arc;

/// One virtual repository, as `[[virtual]]` declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualSettings {
    /// `npm`, `pypi`, `cargo`, `go` or `maven`.
    pub format: String,
    /// Served at the format's usual URL under this name (`/npm/<name>/`).
    pub name: String,
    /// The members in order of precedence: hosted repository names and
    /// proxy repositories of the same format, each a name or a table with
    /// `include` / `exclude` name patterns.
    pub members: Vec<MemberSettings>,
    /// The hosted member publishes and other changes sent to the virtual
    /// repository go to; without it they are refused.
    #[serde(default)]
    pub publish_to: Option<String>,
    /// Namespaces that resolve from hosted members only, whether a hosted
    /// member has the name yet or not: `@acme/*`, `acme-*`, `com.acme:*`.
    #[serde(default)]
    pub claims: Vec<String>,
    /// Names a hosted member has (or a claim covers) whose versions from
    /// proxy members are served too: an owner's exception.
    #[serde(default)]
    pub allow_external: Vec<String>,
    /// How old a version from a proxy member must be (by its upstream
    /// publish time) to be listed or downloaded; 0 turns the cooldown off.
    #[serde(default)]
    pub cooldown_hours: f64,
    /// Other ages for some names: the first matching rule wins.
    #[serde(default)]
    pub cooldown_rules: Vec<CooldownRule>,
    /// Names (`left-pad`) or versions (`left-pad@1.3.1`) exempt from the cooldown.
    #[serde(default)]
    pub cooldown_exempt: Vec<String>,
    /// Versions whose publish time the upstream does not give: `hold`
    /// (left out while a cooldown applies) or `allow`.
    #[serde(default)]
    pub unknown_publish_time: UnknownAge,
}

/// A member: its name, or its name with name filters.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MemberSettings {
    Name(String),
    Filtered {
        name: String,
        /// Only these names are asked of the member (empty: all).
        #[serde(default)]
        include: Vec<String>,
        /// These names are never asked of it.
        #[serde(default)]
        exclude: Vec<String>,
    },
}

impl MemberSettings {
    /// The member repository's name.
    pub fn name(&self) -> &str {
        match self {
            MemberSettings::Name(n) | MemberSettings::Filtered { name: n, .. } => n,
        }
    }
}

/// A cooldown of its own for some names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CooldownRule {
    pub pattern: String,
    pub hours: f64,
}

/// One member of a virtual repository.
pub struct Member {
    /// The repository's bare name (`internal`, `npmjs`).
    pub name: String,
    /// Its proxy, when it is a proxy repository; else it is hosted.
    pub proxy: Option<Arc<Proxy>>,
    include: NamePatterns,
    exclude: NamePatterns,
}

impl Member {
    pub fn is_hosted(&self) -> bool {
        self.proxy.is_none()
    }

    /// Whether the member's filters let `key` through.
    pub fn admits(&self, key: &str) -> bool {
        (self.include.is_empty() || self.include.matching(key).is_some())
            && self.exclude.matching(key).is_none()
    }
}

/// A virtual repository, checked and compiled.
pub struct Virtual {
    pub format: Format,
    /// The bare name (`all`).
    pub name: String,
    pub members: Vec<Member>,
    pub publish_to: Option<String>,
    pub ownership: Ownership,
    pub cooldown: Cooldown,
}

fn hours(h: f64) -> i64 {
    (h * 3600.0).round() as i64
}

impl Virtual {
    /// Compiles `settings`; `proxy` finds a proxy repository of the format
    /// by name (any other member name is a hosted repository).
    pub fn new(
        format: Format,
        settings: &VirtualSettings,
        proxy: impl Fn(&str) -> Option<Arc<Proxy>>,
    ) -> Result<Virtual, String> {
        let patterns = |p: &[String]| NamePatterns::compile(format, p);
        let mut members = Vec::new();
        for m in &settings.members {
            let (name, include, exclude) = match m {
                MemberSettings::Name(n) => (n, &[][..], &[][..]),
                MemberSettings::Filtered {
                    name,
                    include,
                    exclude,
                } => (name, &include[..], &exclude[..]),
            };
            if name == &settings.name {
                return Err(format!("{name:?} cannot be a member of itself"));
            }
            if members.iter().any(|m: &Member| &m.name == name) {
                return Err(format!("member {name:?} is listed twice"));
            }
            members.push(Member {
                name: name.clone(),
                proxy: proxy(name),
                include: patterns(include)?,
                exclude: patterns(exclude)?,
            });
        }
        if members.is_empty() {
            return Err("a virtual repository needs at least one member".into());
        }
        if let Some(target) = &settings.publish_to {
            if !members.iter().any(|m| &m.name == target && m.is_hosted()) {
                return Err(format!(
                    "publish_to {target:?} must be one of its hosted members"
                ));
            }
        }
        if settings.cooldown_hours < 0.0 || settings.cooldown_rules.iter().any(|r| r.hours < 0.0) {
            return Err("cooldown hours cannot be negative".into());
        }
        let rules = settings
            .cooldown_rules
            .iter()
            .map(|r| Ok((patterns(std::slice::from_ref(&r.pattern))?, hours(r.hours))))
            .collect::<Result<_, String>>()?;
        Ok(Virtual {
            format,
            name: settings.name.clone(),
            members,
            publish_to: settings.publish_to.clone(),
            ownership: Ownership {
                claims: patterns(&settings.claims)?,
                allow_external: patterns(&settings.allow_external)?,
            },
            cooldown: Cooldown {
                min_age_secs: hours(settings.cooldown_hours),
                rules,
                exempt: patterns(&settings.cooldown_exempt)?,
                unknown: settings.unknown_publish_time,
            },
        })
    }

    /// `FORMAT/NAME`, as logs, metrics and messages name it.
    pub fn repository(&self) -> String {
        self.format.resource(&self.name)
    }
}

/// Why a virtual repository does not serve something.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The name is owned: proxy members are not asked for it.
    Owned { name: String, owner: Owner },
    /// The version came from a proxy member and is held back.
    Held {
        name: String,
        version: String,
        member: String,
        held: Held,
    },
}

impl Refusal {
    /// The rule's name, for metrics.
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::Owned { .. } => "name_ownership",
            Refusal::Held { .. } => "cooldown",
        }
    }

    /// The refusal in words, naming the rule.
    pub fn message(&self, virt: &Virtual) -> String {
        let repo = virt.repository();
        match self {
            Refusal::Owned { name, owner } => format!(
                "{repo} refuses {name} from its proxy members: {owner}, so {name} resolves from hosted members only (name ownership; an owner can allow external versions: PUT /api/v1/virtuals/{repo}/external/{name}, or allow_external in the configuration)"
            ),
            Refusal::Held {
                name,
                version,
                member,
                held: Held::Young {
                    published,
                    min_age_secs,
                    until,
                },
            } => format!(
                "{repo} holds back {name}@{version} from {member}: published upstream at {}, and versions from proxies are served once they are {} old (cooldown), from {}",
                crate::rfc3339(*published),
                human_secs(*min_age_secs),
                crate::rfc3339(*until),
            ),
            Refusal::Held {
                name,
                version,
                member,
                held: Held::UnknownAge,
            } => format!(
                "{repo} holds back {name}@{version} from {member}: the upstream does not say when it was published, and {repo} holds such versions while its cooldown applies (unknown_publish_time = \"hold\")"
            ),
        }
    }
}

/// The members one name is asked of, in order of precedence: the hosted
/// members that have it, and the proxy members unless the name is owned
/// (or their filters leave it out). Members the caller may not read are
/// left out.
pub struct Plan<'a> {
    pub virt: &'a Virtual,
    pub key: String,
    pub sources: Sources,
    pub members: Vec<&'a Member>,
    /// The revision of the package in each hosted member that has it.
    revisions: Vec<(&'a str, i64)>,
    /// Versions an owner exempted from the cooldown (`""`: every version).
    exempt: Vec<String>,
    now: i64,
}

impl Plan<'_> {
    /// The package's revision in the hosted member `member` (what a
    /// merged document's cache key names it by).
    pub fn revision(&self, member: &Member) -> Option<i64> {
        self.revisions
            .iter()
            .find(|(m, _)| *m == member.name)
            .map(|(_, r)| *r)
    }

    /// Why proxy members are not asked, when the name is owned.
    pub fn owned(&self) -> Option<Refusal> {
        match &self.sources {
            Sources::HostedOnly(owner) => Some(Refusal::Owned {
                name: self.key.clone(),
                owner: owner.clone(),
            }),
            _ => None,
        }
    }

    /// Whether `version`, served by `member` and published at `published`
    /// (Unix seconds; `None` when unknown), may be served now. Versions
    /// from hosted members are never held.
    pub fn cooldown(
        &self,
        member: &Member,
        version: &str,
        published: Option<i64>,
    ) -> Result<(), Refusal> {
        let exempt = self.exempt.iter().any(|v| v.is_empty() || v == version);
        if member.is_hosted() || exempt {
            return Ok(());
        }
        self.virt
            .cooldown
            .decide(&self.key, version, published, self.now)
            .map_err(|held| Refusal::Held {
                name: self.key.clone(),
                version: version.to_string(),
                member: self.virt.format.resource(&member.name),
                held,
            })
    }

    /// Whether any version from a proxy member could be held, so what is
    /// listed depends on the time (listings are then cached per minute).
    pub fn time_dependent(&self) -> bool {
        self.virt.cooldown.is_active() && self.members.iter().any(|m| !m.is_hosted())
    }

    /// What a listing's cache key needs of the time: the minute, when the
    /// cooldown can change what is listed (a version matures at most a
    /// minute late in listings, never early; downloads decide at once).
    pub fn minute(&self) -> i64 {
        if self.time_dependent() {
            self.now / 60
        } else {
            0
        }
    }
}

impl Packages {
    /// The service with these virtual repositories.
    pub fn with_virtuals(mut self, virtuals: impl IntoIterator<Item = Arc<Virtual>>) -> Self {
        self.virtuals = virtuals.into_iter().map(|v| (v.repository(), v)).collect();
        self
    }

    /// The virtual repository `repository` of `format`, if it is one.
    pub fn virtual_repo(&self, format: Format, repository: &str) -> Option<&Arc<Virtual>> {
        self.virtuals.get(&format.resource(repository))
    }

    /// The repository an endpoint is served from, with the access it needs
    /// there (`access` declares it for a repository): a change sent to a
    /// virtual repository goes to its `publish_to` member, and its access is
    /// decided there; without one it is refused. Reads stay on the virtual
    /// repository (each member is checked again for what it gives).
    pub fn route(
        &self,
        format: Format,
        repo: String,
        access: impl Fn(&str) -> PackageResult<Access>,
    ) -> PackageResult<(String, Access)> {
        let declared = access(&repo)?;
        let Some(virt) = self.virtual_repo(format, &repo) else {
            return Ok((repo, declared));
        };
        let changes = match &declared {
            Access::On(action, _) | Access::Caller(action, _) => *action != Action::Read,
            Access::Anyone => false,
        };
        if !changes {
            return Ok((repo, declared));
        }
        match &virt.publish_to {
            Some(target) => Ok((target.clone(), access(target)?)),
            None => Err(PackageError::MethodNotAllowed(format!(
                "{} is a virtual repository without a publish target (publish_to): publish to one of its hosted members",
                virt.repository()
            ))),
        }
    }

    /// Which members `key` is asked of through `virt`, for this caller.
    pub async fn plan<'a>(
        &self,
        req: &Request,
        virt: &'a Virtual,
        key: &str,
    ) -> PackageResult<Plan<'a>> {
        self.plan_for(&req.auth.principal, virt, key).await
    }

    /// [`Packages::plan`] for a caller known by its principal.
    pub async fn plan_for<'a>(
        &self,
        principal: &cairn_core::Principal,
        virt: &'a Virtual,
        key: &str,
    ) -> PackageResult<Plan<'a>> {
        let format = virt.format;
        let readable = |m: &Member| {
            self.decide(principal, format, &m.name, Some(key), Action::Read)
                .is_ok()
        };
        // Ownership counts every hosted member, readable or not: a name
        // the caller cannot see is still not taken from outside. One query
        // tells which have it and whether an owner made an exception.
        let hosted_members: Vec<&str> = virt
            .members
            .iter()
            .filter(|m| m.is_hosted())
            .map(|m| m.name.as_str())
            .collect();
        let facts = self
            .meta
            .ownership_facts(format.as_str(), &hosted_members, &virt.repository(), key)
            .await?;
        let having: Vec<(&Member, i64)> = facts
            .revisions
            .iter()
            .filter_map(|(name, rev)| {
                let m = virt
                    .members
                    .iter()
                    .find(|m| m.is_hosted() && &m.name == name)?;
                Some((m, *rev))
            })
            .collect();
        let hosted = having.first().map(|(m, _)| m.name.as_str());
        let exception = facts.exception.map(|a| {
            format!(
                "an exception {} made at {}",
                a.allowed_by,
                crate::rfc3339(a.allowed_at)
            )
        });
        let sources = virt.ownership.sources(key, hosted, exception);
        let sources = match sources {
            // Name the member as the repository it is.
            Sources::HostedOnly(Owner::Hosted { member }) => Sources::HostedOnly(Owner::Hosted {
                member: format.resource(&member),
            }),
            s => s,
        };
        let proxies_asked = !matches!(sources, Sources::HostedOnly(_));
        let members = virt
            .members
            .iter()
            .filter(|m| {
                if m.is_hosted() {
                    having.iter().any(|(h, _)| h.name == m.name)
                } else {
                    proxies_asked && m.admits(key)
                }
            })
            .filter(|m| readable(m))
            .collect();
        Ok(Plan {
            virt,
            key: key.to_string(),
            sources,
            members,
            revisions: having.iter().map(|(m, r)| (m.name.as_str(), *r)).collect(),
            exempt: facts.exempt,
            now: crate::now(),
        })
    }

    /// A refusal as the client sees it (403, with the rule named), logged
    /// and counted.
    pub fn refuse(&self, virt: &Virtual, refusal: Refusal) -> PackageError {
        let message = refusal.message(virt);
        tracing::info!(repository = %virt.repository(), rule = refusal.rule(), "{message}");
        metrics::counter!("cairn_virtual_refusals_total",
            "repository" => virt.repository(), "rule" => refusal.rule())
        .increment(1);
        PackageError::Refused(message)
    }

    /// Counts versions a listing leaves out (not logged: every listing
    /// would log them).
    pub fn count_hidden(&self, virt: &Virtual, refusal: &Refusal) {
        metrics::counter!("cairn_virtual_hidden_total",
            "repository" => virt.repository(), "rule" => refusal.rule())
        .increment(1);
    }
}

/// What one member gives for a name: a hosted member's package (by its
/// revision), or a proxy member's upstream document.
pub enum Source<'a> {
    Hosted(&'a Member, i64),
    Proxy(&'a Member, Document),
}

impl<'a> Plan<'a> {
    /// What each member of the plan gives, in order: hosted members by
    /// revision, proxy members' documents from `fetch`. A proxy's "not
    /// found" leaves it out; `Err` when no member gives anything (the last
    /// upstream failure, or a 404 saying why proxies were not asked).
    pub async fn sources<F, Fut>(&self, what: &str, fetch: F) -> PackageResult<Vec<Source<'a>>>
    where
        F: Fn(&'a Proxy) -> Fut,
        Fut: std::future::Future<Output = PackageResult<Document>>,
    {
        let mut sources = Vec::new();
        let mut failure = None;
        for &m in &self.members {
            match &m.proxy {
                None => {
                    if let Some(rev) = self.revision(m) {
                        sources.push(Source::Hosted(m, rev));
                    }
                }
                Some(proxy) => match fetch(proxy).await {
                    Ok(doc) => sources.push(Source::Proxy(m, doc)),
                    Err(PackageError::NotFound(_)) => {}
                    Err(e) => failure = Some(e),
                },
            }
        }
        if sources.is_empty() {
            if let Some(e) = failure {
                return Err(e);
            }
            let why = self
                .owned()
                .map(|r| format!(" ({})", r.message(self.virt)))
                .unwrap_or_default();
            return Err(PackageError::not_found(format!("{what} not found{why}")));
        }
        Ok(sources)
    }

    /// The cache identity of a document merged from `sources`: everything
    /// its bytes depend on (`variant`: the base URL, the representation).
    pub fn identity(&self, sources: &[Source<'_>], variant: &str) -> String {
        let mut id = format!(
            "virtual {}\n{}\n{variant}\n{}",
            self.virt.repository(),
            self.key,
            self.minute()
        );
        for s in sources {
            match s {
                Source::Hosted(m, rev) => id.push_str(&format!("\nh {} {rev}", m.name)),
                Source::Proxy(m, doc) => id.push_str(&format!("\np {} {}", m.name, doc.digest)),
            }
        }
        // What owners exempted from the cooldown changes what is listed.
        for v in &self.exempt {
            id.push_str(&format!("\nx {v}"));
        }
        id
    }
}

impl Packages {
    /// Serves one file through a virtual repository, deciding as the
    /// listing decides: from the first member of the plan that has it — a
    /// hosted member through `hosted` (a 404 passes on to the next), a
    /// proxy member when `listed` finds the file's version (and its publish
    /// time) in the upstream's metadata and the cooldown lets it through,
    /// then through `serve`. A name owned here and found in no hosted
    /// member is refused naming the rule.
    pub async fn virtual_file<'a, H, HF, L, LF, S, SF>(
        &self,
        plan: &Plan<'a>,
        what: &str,
        hosted: H,
        listed: L,
        serve: S,
    ) -> PackageResult
    where
        H: Fn(&'a Member) -> HF,
        HF: std::future::Future<Output = PackageResult>,
        L: Fn(&'a Proxy, Refresh) -> LF,
        LF: std::future::Future<Output = PackageResult<Option<(String, Option<i64>)>>>,
        S: Fn(&'a Proxy) -> SF,
        SF: std::future::Future<Output = PackageResult>,
    {
        let mut failure = None;
        for &m in &plan.members {
            let Some(proxy) = &m.proxy else {
                match hosted(m).await {
                    Err(PackageError::NotFound(_)) => continue,
                    other => return other,
                }
            };
            // A file the metadata lacks asks the upstream once more.
            let found = match listed(proxy, Refresh::IfExpired).await {
                Ok(None) => listed(proxy, Refresh::Missing).await,
                other => other,
            };
            match found {
                Ok(Some((version, published))) => {
                    if let Err(r) = plan.cooldown(m, &version, published) {
                        return Err(self.refuse(plan.virt, r));
                    }
                    return serve(proxy).await;
                }
                Ok(None) | Err(PackageError::NotFound(_)) => continue,
                Err(e) => failure = Some(e),
            }
        }
        if let Some(refusal) = plan.owned() {
            return Err(self.refuse(plan.virt, refusal));
        }
        Err(failure.unwrap_or_else(|| PackageError::not_found(format!("{what} not found"))))
    }
}

/// What a package adapter tells about an upstream for `explain`: whether
/// the proxy's upstream has `version` of the package `name`, and when it
/// was published there (`Some(None)`: listed, time unknown) — the same
/// lookup and the same publish time its virtual repository's listings use.
#[async_trait::async_trait]
pub trait UpstreamVersions: Send + Sync {
    async fn upstream_version(
        &self,
        proxy: &Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult<Option<Option<i64>>>;
}

/// Why one name@version would (or would not) come through a virtual
/// repository: `GET /api/v1/virtuals/{format}/{name}/resolve`.
#[derive(Debug, serde::Serialize)]
pub struct Explanation {
    pub repository: String,
    pub package: String,
    /// Why the name is owned here, when it is.
    pub owned: Option<String>,
    /// The exception that lets external versions of an owned name through.
    pub exception: Option<String>,
    pub members: Vec<MemberExplanation>,
    /// The member the version would come from, if any.
    pub version: Option<String>,
    pub from: Option<String>,
    /// The refusal a download of the version would get, naming the rule.
    pub refused: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct MemberExplanation {
    pub member: String,
    pub kind: &'static str,
    /// Whether the name is asked of this member, and if not, why.
    pub asked: bool,
    pub why: Option<String>,
    /// For a version: whether the member has it, its state (hosted) or
    /// publish time (proxy), and what the cooldown says.
    pub has_version: Option<bool>,
    pub detail: Option<String>,
}

impl Packages {
    /// Explains where `name` (and `version`) would come from through
    /// `virt` for this caller, deciding as listings and downloads decide.
    pub async fn explain(
        &self,
        principal: &cairn_core::Principal,
        virt: &Virtual,
        name: &str,
        version: Option<&str>,
        upstream: &dyn UpstreamVersions,
    ) -> PackageResult<Explanation> {
        let key = cairn_core::package_key(virt.format, name)
            .map_err(|e| PackageError::bad(e.to_string()))?;
        let plan = self.plan_for(principal, virt, &key).await?;
        let (owned, exception) = match &plan.sources {
            Sources::All => (None, None),
            Sources::HostedOnly(owner) => (Some(owner.to_string()), None),
            Sources::AllowedExternal { owner, exception } => {
                (Some(owner.to_string()), Some(exception.clone()))
            }
        };
        let mut out = Explanation {
            repository: virt.repository(),
            package: key.clone(),
            owned,
            exception,
            members: Vec::new(),
            version: version.map(str::to_string),
            from: None,
            refused: None,
        };
        for m in &virt.members {
            let asked = plan.members.iter().any(|p| p.name == m.name);
            let why = (!asked).then(|| {
                if m.is_hosted() {
                    if plan.revision(m).is_none() {
                        "it has no package of that name".to_string()
                    } else {
                        "the caller may not read it".to_string()
                    }
                } else if matches!(plan.sources, Sources::HostedOnly(_)) {
                    "the name is owned here (name ownership)".to_string()
                } else if !m.admits(&key) {
                    "its include/exclude filters leave the name out".to_string()
                } else {
                    "the caller may not read it".to_string()
                }
            });
            let mut e = MemberExplanation {
                member: virt.format.resource(&m.name),
                kind: if m.is_hosted() { "hosted" } else { "proxy" },
                asked,
                why,
                has_version: None,
                detail: None,
            };
            if let (Some(version), true) = (version, asked) {
                match &m.proxy {
                    None => {
                        let pkg = self
                            .meta
                            .package(PackageRef::new(virt.format, &m.name, &key))
                            .await?;
                        let v = pkg.as_ref().and_then(|p| p.version(version));
                        e.has_version = Some(v.is_some_and(|v| v.state.serves_bytes()));
                        e.detail = v.map(|v| format!("state {}", v.state.as_str()));
                    }
                    Some(proxy) => match upstream.upstream_version(proxy, name, version).await {
                        Ok(Some(published)) => {
                            e.has_version = Some(true);
                            let cooled = plan.cooldown(m, version, published);
                            e.detail = Some(match (&cooled, published) {
                                (Ok(()), Some(t)) => {
                                    format!("published {}; old enough", crate::rfc3339(t))
                                }
                                (Ok(()), None) => "publish time unknown; served".into(),
                                (Err(r), _) => r.message(virt),
                            });
                            if let Err(r) = cooled {
                                if out.from.is_none() && out.refused.is_none() {
                                    out.refused = Some(r.message(virt));
                                }
                                out.members.push(e);
                                continue;
                            }
                        }
                        Ok(None) | Err(PackageError::NotFound(_)) => e.has_version = Some(false),
                        Err(err) => e.detail = Some(format!("the upstream failed: {err}")),
                    },
                }
                if e.has_version == Some(true) && out.from.is_none() && out.refused.is_none() {
                    out.from = Some(e.member.clone());
                }
            }
            out.members.push(e);
        }
        if version.is_some() && out.from.is_none() && out.refused.is_none() {
            out.refused = plan.owned().map(|r| r.message(virt));
        }
        Ok(out)
    }
}

impl Packages {
    /// Adds the versions `member` lists to `merged` (each once, in order),
    /// leaving out those the cooldown holds, for formats whose upstreams
    /// give no publish time (Go, Maven): a proxy member's version is as old
    /// as cairn's first sight of it (`ProxyStore::versions_seen`, recorded
    /// here; the first listing of `key` is the baseline).
    pub async fn merge_by_first_sight(
        &self,
        plan: &Plan<'_>,
        member: &Member,
        key: &str,
        listed: Vec<String>,
        merged: &mut Vec<String>,
    ) -> PackageResult<()> {
        let seen: Vec<Option<i64>> = match &member.proxy {
            None => vec![None; listed.len()],
            Some(proxy) => self
                .meta
                .versions_seen(proxy.repository(), key, &listed, crate::now())
                .await?
                .into_iter()
                .map(Some)
                .collect(),
        };
        for (version, seen_at) in listed.into_iter().zip(seen) {
            if merged.contains(&version) {
                continue;
            }
            if let Err(refusal) = plan.cooldown(member, &version, seen_at) {
                self.count_hidden(plan.virt, &refusal);
                continue;
            }
            merged.push(version);
        }
        Ok(())
    }
}

impl Packages {
    /// When the proxy repository `repository` first saw `version` of `key`
    /// (recorded now if never; the baseline if nothing of `key` was seen).
    pub async fn first_seen(
        &self,
        repository: &str,
        key: &str,
        version: &str,
    ) -> PackageResult<i64> {
        let seen = self
            .meta
            .versions_seen(repository, key, &[version.to_string()], crate::now())
            .await?;
        Ok(seen[0])
    }

    /// For `explain`: whether the upstream's listing `listed` has `version`,
    /// and when the proxy first saw it (recording the listing, as a
    /// listing through a virtual repository does).
    pub async fn first_seen_listed(
        &self,
        proxy: &Proxy,
        key: &str,
        listed: &[String],
        version: &str,
    ) -> PackageResult<Option<Option<i64>>> {
        let Some(i) = listed.iter().position(|v| v == version) else {
            return Ok(None);
        };
        let seen = self
            .meta
            .versions_seen(proxy.repository(), key, listed, crate::now())
            .await?;
        Ok(Some(Some(seen[i])))
    }
}
