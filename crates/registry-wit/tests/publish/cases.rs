//! WIT semver cases: every row of wasm-pkg-client 0.16.1's tests/publish_semver_check.rs,
//! translated (our own cases are in `ours.rs`).
//!
//! (Their file actually holds 15 rows: 10 in `publish_semver_check` and 5 in
//! `publish_semver_check_multiworld`. All 15 are here, tagged `wkg:<row name>`.)
//!
//! Expectations follow wkg 0.16.1's rules:
//! * the release is compared only with its nearest lower and nearest higher
//!   published neighbour inside its compatibility series (`X.*` for X >= 1,
//!   `0.Y.*` for Y >= 1, exactly `0.0.Z` otherwise); published pre-releases are
//!   never neighbours, but a pre-release candidate is checked like any other;
//! * every world of the older release must still exist in the newer one, and the
//!   newer world may add exports and drop imports but may not drop exports, add
//!   imports, or change any type;
//! * publishing a version that already exists is refused (not a semver error).
//!
//! Interfaces that no world mentions are never compared by wkg (a package with
//! no worlds passes any change); no case below depends on that gap.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    /// Releases already published, oldest first: (version, WIT text of the whole package).
    pub(crate) published: &'static [(&'static str, &'static str)],
    /// The release being published: (version, WIT text).
    pub(crate) new: (&'static str, &'static str),
    /// Whether publishing it must be accepted (true) or refused as semver-incompatible (false).
    pub(crate) accepted: bool,
}

/// wasm-pkg-client 0.16.1's own cases.
pub(crate) const WKG: &[Case] = &[
    // ---- wkg 0.16.1, single world `the-world` ----------------------------------
    // wkg:first_publish_in_empty_series
    Case {
        name: "first-release-has-nothing-to-compare",
        published: &[],
        new: (
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        ),
        accepted: true,
    },
    // wkg:compatible_in_same_zero_y_series
    Case {
        name: "zero-y-patch-adds-export",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "0.1.1",
            "package test:pkg@0.1.1; world the-world { export base: func() -> u32; export extra: func() -> u32; }",
        ),
        accepted: true,
    },
    // wkg:incompatible_in_same_zero_y_series
    Case {
        name: "zero-y-patch-changes-result",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "0.1.1",
            "package test:pkg@0.1.1; world the-world { export base: func() -> string; }",
        ),
        accepted: false,
    },
    // wkg:incompatible_across_zero_y_series_boundary
    Case {
        name: "zero-y-minor-bump-may-break",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "0.2.0",
            "package test:pkg@0.2.0; world the-world { export base: func() -> string; }",
        ),
        accepted: true,
    },
    // wkg:incompatible_across_minors_within_a_major
    Case {
        name: "minor-bump-changes-result",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "1.3.0",
            "package test:pkg@1.3.0; world the-world { export base: func() -> string; }",
        ),
        accepted: false,
    },
    // wkg:incompatible_across_major_boundary
    Case {
        name: "major-bump-changes-result",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "2.0.0",
            "package test:pkg@2.0.0; world the-world { export base: func() -> string; }",
        ),
        accepted: true,
    },
    // wkg:incompatible_with_skip_semver_check. wkg accepts it only because the
    // row sets `skip_semver_check`; `Case` has no opt-out, so this row records
    // what the check itself decides (same data as zero-y-patch-changes-result).
    Case {
        name: "opt-out-row-with-check-enabled",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "0.1.1",
            "package test:pkg@0.1.1; world the-world { export base: func() -> string; }",
        ),
        accepted: false,
    },
    // wkg:duplicate_version_is_rejected. Refused as "version already exists"
    // before any semver comparison, even though the WIT is identical.
    Case {
        name: "same-version-twice",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        ),
        accepted: false,
    },
    // wkg:duplicate_version_with_skip_semver_check. wkg accepts it only with
    // the opt-out; with the check enabled it is the duplicate refusal again.
    Case {
        name: "same-version-twice-opt-out-row-with-check-enabled",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        )],
        new: (
            "0.1.0",
            "package test:pkg@0.1.0; world the-world { export base: func() -> u32; }",
        ),
        accepted: false,
    },
    // wkg:prerelease_priors_are_ignored
    Case {
        name: "published-prerelease-is-not-a-neighbour",
        published: &[(
            "0.1.1-beta.1",
            "package test:pkg@0.1.1-beta.1; world the-world { export base: func() -> string; }",
        )],
        new: (
            "0.1.1",
            "package test:pkg@0.1.1; world the-world { export base: func() -> u32; }",
        ),
        accepted: true,
    },
    // ---- wkg 0.16.1, worlds `alpha` and `beta` ---------------------------------
    // wkg:multiworld_all_compatible
    Case {
        name: "two-worlds-both-grow",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world alpha { export base: func() -> u32; } world beta { export base: func() -> u32; }",
        )],
        new: (
            "1.3.0",
            "package test:pkg@1.3.0; world alpha { export base: func() -> u32; export extra: func() -> u32; } world beta { export base: func() -> u32; export extra: func() -> u32; }",
        ),
        accepted: true,
    },
    // wkg:multiworld_one_incompatible
    Case {
        name: "two-worlds-beta-breaks",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world alpha { export base: func() -> u32; } world beta { export base: func() -> u32; }",
        )],
        new: (
            "1.3.0",
            "package test:pkg@1.3.0; world alpha { export base: func() -> u32; export extra: func() -> u32; } world beta { export base: func() -> string; }",
        ),
        accepted: false,
    },
    // wkg:multiworld_added_world
    Case {
        name: "minor-adds-a-world",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world alpha { export base: func() -> u32; }",
        )],
        new: (
            "1.3.0",
            "package test:pkg@1.3.0; world alpha { export base: func() -> u32; export extra: func() -> u32; } world beta { export base: func() -> u32; }",
        ),
        accepted: true,
    },
    // wkg:multiworld_removed_world_same_major
    Case {
        name: "minor-removes-a-world",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world alpha { export base: func() -> u32; } world beta { export base: func() -> u32; }",
        )],
        new: (
            "1.3.0",
            "package test:pkg@1.3.0; world alpha { export base: func() -> u32; export extra: func() -> u32; }",
        ),
        accepted: false,
    },
    // wkg:multiworld_removed_world_across_major
    Case {
        name: "major-removes-a-world",
        published: &[(
            "1.2.0",
            "package test:pkg@1.2.0; world alpha { export base: func() -> u32; } world beta { export base: func() -> u32; }",
        )],
        new: (
            "2.0.0",
            "package test:pkg@2.0.0; world alpha { export base: func() -> u32; }",
        ),
        accepted: true,
    },
];
