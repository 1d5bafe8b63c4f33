//! Which `cairn` command carries out each operation of the admin API
//! (docs/openapi.json). The test below fails when an operation has no
//! command here, or a command here no longer parses: a new endpoint needs
//! its subcommand.
//!
//! Commands marked "stores" do the same on the configured stores (the
//! operator's way, also with the server down); the rest ask a running cairn.

/// (operationId, a command line that carries it out; `None` with the
/// reason for an operation that is not a person's to run from a shell).
pub(crate) const API_COMMANDS: &[(&str, Result<&str, &str>)] = &[
    ("advisory_get", Ok("vuln affected GHSA-xxxx-yyyy-zzzz")),
    ("attestation_keys_get", Ok("attestation keys")),
    ("attestation_list_get", Ok("attestation list npm main left-pad 1.3.0")),
    ("audit_get", Ok("audit --artifact sha256:ab")), // stores
    ("components_get", Ok("sbom query pkg:npm/left-pad")),
    ("findings_get", Ok("vuln findings oci team/app sha256:ab")),
    ("gc_status_get", Ok("gc status")),
    ("gc_run_post", Ok("gc run --grace-secs 0")),
    ("image_get", Ok("image show team/app:1.0")),
    ("image_tag_delete_delete", Ok("image untag team/app:old")),
    ("job_list_get", Ok("job list")),
    ("job_start_post", Ok("job start fsck --rehash --wait")),
    ("job_cancel_delete", Ok("job cancel fsck-5b0c2d9e41aa")),
    ("job_get", Ok("job show fsck-5b0c2d9e41aa --wait")),
    ("staging_list_get", Ok("maven staging list --repository releases")), // stores
    ("staging_change_post", Ok("maven staging release 1 --repository releases")), // stores
    ("oidc_exchange_post", Ok("publisher exchange npm/main --oidc-token-env ID_TOKEN")),
    ("package_get", Ok("package show --format npm --repository main left-pad")),
    ("version_change_post", Ok("package yank --format pypi --repository main demo 1.0")), // stores
    ("policy_explain_get", Ok("policy explain prod/app:1.0")),
    ("proxy_cache_get", Ok("proxy cache npm/npmjs --prefix left-pad")),
    ("proxy_cache_drop_delete", Ok("proxy drop npm/npmjs left-pad")),
    ("publisher_list_get", Ok("publisher list --repository npm/main")), // stores
    ("publisher_add_post", Ok("publisher add --repository npm/main --issuer https://issuer --audience cairn")), // stores
    ("quarantine_list_get", Ok("quarantine list")),
    ("quarantine_release_post", Ok("quarantine release sha256:ab")),
    ("quota_list_get", Ok("quota list")), // stores
    ("quota_set_put", Ok("quota set team 10GiB")), // stores
    ("quota_remove_delete", Ok("quota remove team")), // stores
    ("repositories_get", Ok("repository list")),
    ("repository_get", Ok("repository show oci/team/app --prefix v")),
    ("retention_preview_get", Ok("retention preview")), // stores
    ("retention_apply_post", Ok("retention apply")), // stores
    ("sbom_list_get", Ok("sbom list npm main left-pad 1.3.0")),
    ("sbom_attach_put", Ok("sbom attach bom.json --format npm --repository main --package left-pad --version 1.3.0")),
    ("sbom_document_get", Ok("sbom get npm main left-pad 1.3.0 -o bom.json")),
    ("sbom_remove_delete", Ok("sbom remove npm main left-pad 1.3.0 --digest sha256:ab")),
    ("search_get", Ok("search pkg:npm/left-pad")),
    ("secret_report_post", Err("GitHub's secret scanning reports leaked tokens here, signed by GitHub")),
    ("session_sign_in_post", Ok("login --user admin")),
    ("session_sign_out_delete", Ok("logout")),
    ("session_info_get", Ok("whoami")),
    ("session_methods_get", Err("the web UI's sign-in page asks which sign-in methods there are")),
    ("session_sso_start_get", Err("a browser's OpenID Connect sign-in (redirects)")),
    ("session_sso_callback_get", Err("the OpenID provider's redirect back to the browser")),
    ("session_web_start_post", Ok("login --web")),
    ("session_web_token_get", Ok("login --web")),
    ("session_web_get", Err("the web UI's approval page shows what asks to sign in")),
    ("session_web_approve_post", Err("approved in the web UI, in a browser session: a token must not make itself a session")),
    ("storage_get", Ok("storage --by-namespace")), // stores
    ("token_list_get", Ok("token list --user dev")), // stores
    ("token_create_post", Ok("token create --user dev --scope team/**:read")), // stores
    ("token_revoke_delete", Ok("token revoke 0123456789abcdef")), // stores
    ("user_create_post", Ok("user create dev --grant team/**:read")), // stores
    ("user_grants_put", Ok("user grant dev --grant team/**:read")), // stores
    ("totp_status_get", Ok("user totp status")),
    ("totp_start_post", Ok("user totp enable")),
    ("totp_confirm_post", Ok("user totp confirm 123456")),
    ("totp_disable_delete", Ok("user totp disable --otp 123456")),
    ("totp_recovery_codes_post", Ok("user totp recovery-codes --otp 123456")),
    ("virtual_resolve_get", Ok("explain npm/all left-pad 1.3.0")),
    ("virtual_exemption_list_get", Ok("virtual exempt list npm/all")),
    ("virtual_exemption_change_put", Ok("virtual exempt add npm/all left-pad --version 1.3.1 --reason fix")),
    ("virtual_exemption_change_delete", Ok("virtual exempt remove npm/all left-pad --version 1.3.1")),
    ("virtual_external_list_get", Ok("virtual external list npm/all")),
    ("virtual_external_change_put", Ok("virtual external add npm/all left-pad --reason ours-too")),
    ("virtual_external_change_delete", Ok("virtual external remove npm/all left-pad")),
    ("vuln_exception_list_get", Ok("vuln exception list")),
    ("vuln_exception_set_put", Ok("vuln exception set GHSA-xxxx-yyyy-zzzz 'npm/*' --reason accepted --expires 2027-01-01T00:00:00Z")),
    ("vuln_exception_remove_delete", Ok("vuln exception remove GHSA-xxxx-yyyy-zzzz 'npm/*'")),
    ("warm_start_post", Ok("warm package-lock.json --repository all")),
    ("warm_job_get", Ok("warm package-lock.json --repository all")),
];

#[cfg(test)]
mod tests {
    use super::API_COMMANDS;
    use crate::commands::Cli;
    use clap::{CommandFactory, FromArgMatches};

    /// Splits a command line like a shell would for these examples
    /// (single quotes only).
    fn words(line: &str) -> Vec<String> {
        let mut out = vec!["cairn".to_string()];
        let mut quoted = false;
        let mut word = String::new();
        for c in line.chars() {
            match c {
                '\'' => quoted = !quoted,
                ' ' if !quoted => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    }

    #[test]
    fn every_api_operation_has_a_command() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap();
        let mut documented = Vec::new();
        for ops in doc["paths"].as_object().unwrap().values() {
            for op in ops.as_object().unwrap().values() {
                documented.push(op["operationId"].as_str().unwrap().to_string());
            }
        }
        for id in &documented {
            assert!(
                API_COMMANDS.iter().any(|(op, _)| op == id),
                "the admin API operation {id} has no cairn command in commands/coverage.rs"
            );
        }
        for (id, command) in API_COMMANDS {
            assert!(
                documented.contains(&id.to_string()),
                "{id} is not an operation of docs/openapi.json"
            );
            let Ok(line) = command else { continue };
            let matches = Cli::command()
                .try_get_matches_from(words(line))
                .unwrap_or_else(|e| panic!("{id}: `cairn {line}` does not parse: {e}"));
            Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{id}: `cairn {line}`: {e}"));
        }
    }
}
