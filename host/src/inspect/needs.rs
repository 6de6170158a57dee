//! What a guest would ask of its sandbox, read from the names of its
//! imports, and the flag that grants each.

use super::Group;

const PREVIEW1: &str = "wasi_snapshot_preview1";

/// A capability a guest imports the means to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// `files`, `environment`, `network`, `clocks` or `random`.
    pub name: &'static str,
    /// How the host grants it.
    pub grant: &'static str,
    /// The imports that show it: functions of WASI preview 1, interfaces
    /// of preview 2.
    pub imports: Vec<String>,
}

/// One capability: its name, how it is granted, and which preview-1
/// functions and preview-2 interfaces (by prefix) reach it.
struct Rule {
    name: &'static str,
    grant: &'static str,
    preview1: fn(&str) -> bool,
    preview2: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        name: "files",
        grant: "--dir (read-only) or --dir-rw",
        preview1: |f| f.starts_with("path_") || f == "fd_readdir",
        preview2: "wasi:filesystem/",
    },
    Rule {
        name: "environment",
        grant: "--env",
        preview1: |f| f == "environ_get" || f == "environ_sizes_get",
        preview2: "wasi:cli/environment@",
    },
    Rule {
        name: "network",
        grant: "none: the host grants guests no network",
        preview1: |f| f.starts_with("sock_"),
        preview2: "wasi:sockets/",
    },
    Rule {
        name: "clocks",
        grant: "always granted",
        preview1: |f| f.starts_with("clock_"),
        preview2: "wasi:clocks/",
    },
    Rule {
        name: "random",
        grant: "always granted",
        preview1: |f| f == "random_get",
        preview2: "wasi:random/",
    },
];

/// The capabilities `imports` reach, in a fixed order.
pub fn capabilities(imports: &[Group]) -> Vec<Capability> {
    RULES
        .iter()
        .filter_map(|rule| {
            let found: Vec<String> = imports
                .iter()
                .flat_map(|group| reaches(rule, group))
                .collect();
            (!found.is_empty()).then_some(Capability {
                name: rule.name,
                grant: rule.grant,
                imports: found,
            })
        })
        .collect()
}

/// The imports of `group` that reach `rule`'s capability.
fn reaches(rule: &Rule, group: &Group) -> Vec<String> {
    if group.name == PREVIEW1 {
        return group
            .items
            .iter()
            .filter(|item| (rule.preview1)(item))
            .cloned()
            .collect();
    }
    // `wasi:cli/environment` also hands out the arguments; only
    // `get-environment` reads variables.
    let environment = rule.name == "environment";
    let reached = group.name.starts_with(rule.preview2)
        && (!environment || group.items.iter().any(|f| f == "get-environment"));
    if reached {
        vec![group.name.clone()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, items: &[&str]) -> Group {
        Group {
            name: name.to_owned(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn names(imports: &[Group]) -> Vec<&'static str> {
        capabilities(imports).iter().map(|c| c.name).collect()
    }

    #[test]
    fn preview1_functions_name_their_capability() {
        let imports = [group(
            PREVIEW1,
            &["fd_write", "path_open", "environ_get", "sock_accept"],
        )];
        assert_eq!(names(&imports), ["files", "environment", "network"]);
        assert_eq!(capabilities(&imports)[0].imports, ["path_open"]);
    }

    #[test]
    fn arguments_alone_are_not_the_environment() {
        let args = [group("wasi:cli/environment@0.2.6", &["get-arguments"])];
        assert!(names(&args).is_empty());
        let both = [
            group("wasi:cli/environment@0.2.6", &["get-environment"]),
            group("wasi:sockets/tcp@0.2.6", &[]),
        ];
        assert_eq!(names(&both), ["environment", "network"]);
    }
}
