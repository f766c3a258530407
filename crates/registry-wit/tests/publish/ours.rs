//! Our own semver cases: the two the issue names (a release between two others, inline
//! interfaces), the 0.x and pre-release rules, multi-world packages, and interfaces no world
//! mentions (stricter than wkg).

use crate::cases::Case;

pub(crate) const OURS: &[Case] = &[
    // ---- ours ------------------------------------------------------------------
    // (a) 1.1.0 slots in between and exports `g`, which the newer 1.2.0 lacks.
    Case {
        name: "between-releases-interface-export-missing-above",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
            (
                "1.2.0",
                "package test:pkg@1.2.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
        ],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; g: func() -> u32; } world w { export api; }",
        ),
        accepted: false,
    },
    // (a) the same with a freestanding exported function in the world.
    Case {
        name: "between-releases-world-export-missing-above",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; world w { export f: func() -> u32; }",
            ),
            (
                "1.2.0",
                "package test:pkg@1.2.0; world w { export f: func() -> u32; }",
            ),
        ],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; world w { export f: func() -> u32; export g: func(); }",
        ),
        accepted: false,
    },
    // 1.1.0 between two releases and compatible with both.
    Case {
        name: "between-releases-compatible",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
            (
                "1.2.0",
                "package test:pkg@1.2.0; interface api { f: func() -> u32; g: func() -> u32; h: func(); } world w { export api; }",
            ),
        ],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; g: func() -> u32; } world w { export api; }",
        ),
        accepted: true,
    },
    // (b)
    Case {
        name: "inline-interface-result-changes",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; world w { export x: interface { f: func() -> u32; } }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; world w { export x: interface { f: func() -> string; } }",
        ),
        accepted: false,
    },
    // (c)
    Case {
        name: "inline-interface-gains-function",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; world w { export x: interface { f: func() -> u32; } }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; world w { export x: interface { f: func() -> u32; g: func(a: u32) -> bool; } }",
        ),
        accepted: true,
    },
    // (d) only interface `b`, used by the second world only, changes.
    Case {
        name: "second-of-two-worlds-breaks",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface a { f: func() -> u32; } interface b { g: func() -> u32; } world first { export a; } world second { export b; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface a { f: func() -> u32; } interface b { g: func() -> s64; } world first { export a; } world second { export b; }",
        ),
        accepted: false,
    },
    // (e)
    Case {
        name: "major-bump-removes-function",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
            ),
            (
                "1.4.0",
                "package test:pkg@1.4.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
            ),
        ],
        new: (
            "2.0.0",
            "package test:pkg@2.0.0; interface api { f: func() -> string; } world w { export api; }",
        ),
        accepted: true,
    },
    // (f) 0.1.x is one series...
    Case {
        name: "zero-y-patch-removes-function",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        )],
        new: (
            "0.1.1",
            "package test:pkg@0.1.1; interface api { f: func() -> u32; } world w { export api; }",
        ),
        accepted: false,
    },
    // (f) ...and 0.2.0 starts another.
    Case {
        name: "zero-y-minor-removes-function",
        published: &[(
            "0.1.0",
            "package test:pkg@0.1.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        )],
        new: (
            "0.2.0",
            "package test:pkg@0.2.0; interface api { f: func() -> u32; } world w { export api; }",
        ),
        accepted: true,
    },
    // (f) 0.2.0 breaking and already published does not excuse 0.1.1 from 0.1.0.
    Case {
        name: "zero-y-patch-after-next-minor",
        published: &[
            (
                "0.1.0",
                "package test:pkg@0.1.0; world w { export f: func() -> u32; }",
            ),
            (
                "0.2.0",
                "package test:pkg@0.2.0; world w { export f: func() -> string; }",
            ),
        ],
        new: (
            "0.1.1",
            "package test:pkg@0.1.1; world w { export f: func() -> string; }",
        ),
        accepted: false,
    },
    // 0.0.z: each patch is its own series, so nothing is compared.
    Case {
        name: "zero-zero-patch-may-break",
        published: &[(
            "0.0.1",
            "package test:pkg@0.0.1; world w { export f: func() -> u32; }",
        )],
        new: (
            "0.0.2",
            "package test:pkg@0.0.2; world w { export f: func() -> string; }",
        ),
        accepted: true,
    },
    // (g) a pre-release candidate is compared with the stable 1.0.0 below it.
    Case {
        name: "prerelease-candidate-breaks",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
        )],
        new: (
            "1.1.0-rc.1",
            "package test:pkg@1.1.0-rc.1; interface api { f: func() -> string; } world w { export api; }",
        ),
        accepted: false,
    },
    // A pre-release candidate that only adds is fine.
    Case {
        name: "prerelease-candidate-adds",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
        )],
        new: (
            "1.1.0-rc.1",
            "package test:pkg@1.1.0-rc.1; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        ),
        accepted: true,
    },
    // rc.1 added `g`; rc.2 drops it again. rc.1 is not a neighbour, 1.0.0 is.
    Case {
        name: "prerelease-after-prerelease-drops-its-addition",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
            (
                "1.1.0-rc.1",
                "package test:pkg@1.1.0-rc.1; interface api { f: func() -> u32; g: func(); } world w { export api; }",
            ),
        ],
        new: (
            "1.1.0-rc.2",
            "package test:pkg@1.1.0-rc.2; interface api { f: func() -> u32; } world w { export api; }",
        ),
        accepted: true,
    },
    // A broken published pre-release does not block the stable release.
    Case {
        name: "stable-after-broken-prerelease",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
            (
                "1.1.0-rc.1",
                "package test:pkg@1.1.0-rc.1; interface api { f: func() -> string; } world w { export api; }",
            ),
        ],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        ),
        accepted: true,
    },
    // (h)
    Case {
        name: "minor-adds-exported-interface",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; } interface more { g: func(s: string); } world w { export api; export more; }",
        ),
        accepted: true,
    },
    // (h) without worlds.
    Case {
        name: "interface-only-package-adds-interface",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; } interface more { g: func(s: string); }",
        ),
        accepted: true,
    },
    // (i)
    Case {
        name: "minor-removes-function",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; } world w { export api; }",
        ),
        accepted: false,
    },
    // (j)
    Case {
        name: "record-field-type-changes",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface geo { record point { x: u32, y: u32 } origin: func() -> point; } world w { export geo; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface geo { record point { x: u32, y: u64 } origin: func() -> point; } world w { export geo; }",
        ),
        accepted: false,
    },
    // A function parameter type changes.
    Case {
        name: "param-type-changes",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func(n: u32); } world w { export api; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func(n: u64); } world w { export api; }",
        ),
        accepted: false,
    },
    // Enum cases are part of the type: adding one changes it.
    Case {
        name: "enum-gains-case",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { enum color { red, green } pick: func() -> color; } world w { export api; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { enum color { red, green, blue } pick: func() -> color; } world w { export api; }",
        ),
        accepted: false,
    },
    // A resource gaining a method only adds an export.
    Case {
        name: "resource-gains-method",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { resource conn { send: func(b: list<u8>); } } world w { export api; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { resource conn { send: func(b: list<u8>); close: func(); } } world w { export api; }",
        ),
        accepted: true,
    },
    // A world dropping one of its exported interfaces.
    Case {
        name: "minor-drops-exported-interface",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface a { f: func(); } interface b { g: func(); } world w { export a; export b; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface a { f: func(); } interface b { g: func(); } world w { export a; }",
        ),
        accepted: false,
    },
    // Imports run the other way: a newer world may need less, never more.
    Case {
        name: "minor-adds-import",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface host { log: func(m: string); } world w { export run: func(); }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface host { log: func(m: string); } world w { import host; export run: func(); }",
        ),
        accepted: false,
    },
    Case {
        name: "minor-drops-import",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface host { log: func(m: string); } world w { import host; export run: func(); }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface host { log: func(m: string); } world w { export run: func(); }",
        ),
        accepted: true,
    },
    Case {
        name: "imported-interface-gains-function",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface host { log: func(m: string); } world w { import host; export run: func(); }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface host { log: func(m: string); flush: func(); } world w { import host; export run: func(); }",
        ),
        accepted: false,
    },
    // (k) 2.0.0 is another series; only 1.0.0 is compared.
    Case {
        name: "patch-under-newer-major",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
            (
                "2.0.0",
                "package test:pkg@2.0.0; interface api { f: func() -> string; } world w { export api; }",
            ),
        ],
        new: (
            "1.0.1",
            "package test:pkg@1.0.1; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        ),
        accepted: true,
    },
    // Only the nearest lower neighbour counts: 1.1.0 (already incompatible with
    // 1.0.0, e.g. published with the check off) is the reference for 1.2.0.
    Case {
        name: "only-nearest-lower-neighbour-is-compared",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; world w { export f: func() -> u32; }",
            ),
            (
                "1.1.0",
                "package test:pkg@1.1.0; world w { export g: func() -> u32; }",
            ),
        ],
        new: (
            "1.2.0",
            "package test:pkg@1.2.0; world w { export g: func() -> u32; export h: func(); }",
        ),
        accepted: true,
    },
    // A patch published later than its successor must not export more than it.
    Case {
        name: "older-patch-exports-what-newer-lacks",
        published: &[(
            "1.1.0",
            "package test:pkg@1.1.0; world w { export f: func() -> u32; }",
        )],
        new: (
            "1.0.5",
            "package test:pkg@1.0.5; world w { export f: func() -> u32; export g: func(); }",
        ),
        accepted: false,
    },
    Case {
        name: "older-patch-exports-subset-of-newer",
        published: &[(
            "1.1.0",
            "package test:pkg@1.1.0; world w { export f: func() -> u32; export g: func(); }",
        )],
        new: (
            "1.0.5",
            "package test:pkg@1.0.5; world w { export f: func() -> u32; }",
        ),
        accepted: true,
    },
    // Identical patch in the middle of a series.
    Case {
        name: "patch-in-middle-unchanged",
        published: &[
            (
                "1.0.0",
                "package test:pkg@1.0.0; interface api { f: func() -> u32; } world w { export api; }",
            ),
            (
                "1.1.0",
                "package test:pkg@1.1.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
            ),
            (
                "1.2.0",
                "package test:pkg@1.2.0; interface api { f: func() -> u32; g: func(); } world w { export api; }",
            ),
        ],
        new: (
            "1.1.1",
            "package test:pkg@1.1.1; interface api { f: func() -> u32; g: func(); } world w { export api; }",
        ),
        accepted: true,
    },
    // Stricter than wkg: interfaces no world mentions are compared as well.
    Case {
        name: "interface-only-function-removed",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; g: func(); }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; }",
        ),
        accepted: false,
    },
    Case {
        name: "interface-only-result-changed",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; }",
        )],
        new: (
            "1.0.1",
            "package test:pkg@1.0.1; interface api { f: func() -> string; }",
        ),
        accepted: false,
    },
    Case {
        name: "interface-only-function-added",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface api { f: func() -> u32; }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface api { f: func() -> u32; g: func(); }",
        ),
        accepted: true,
    },
    Case {
        name: "interface-only-types-used-across-interfaces-unchanged",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface types { record r { a: u32 } } interface api { use types.{r}; f: func() -> r; }",
        )],
        new: (
            "1.0.1",
            "package test:pkg@1.0.1; interface types { record r { a: u32 } } interface api { use types.{r}; f: func() -> r; }",
        ),
        accepted: true,
    },
    Case {
        name: "interface-only-record-field-changed-across-interfaces",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface types { record r { a: u32 } } interface api { use types.{r}; f: func() -> r; }",
        )],
        new: (
            "1.0.1",
            "package test:pkg@1.0.1; interface types { record r { a: string } } interface api { use types.{r}; f: func() -> r; }",
        ),
        accepted: false,
    },
    // An interface that uses two others, one of which uses the other: its world must
    // import them in dependency order, or it could not be compared at all.
    Case {
        name: "interface-with-a-diamond-of-uses-loses-a-function",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface b { type t = u32; } interface c { use b.{t}; type u = t; } interface a { use b.{t}; use c.{u}; f: func(x: t) -> u; g: func(); }",
        )],
        new: (
            "1.1.0",
            "package test:pkg@1.1.0; interface b { type t = u32; } interface c { use b.{t}; type u = t; } interface a { use b.{t}; use c.{u}; f: func(x: t) -> u; }",
        ),
        accepted: false,
    },
    Case {
        name: "interface-with-a-diamond-of-uses-unchanged",
        published: &[(
            "1.0.0",
            "package test:pkg@1.0.0; interface b { type t = u32; } interface c { use b.{t}; type u = t; } interface a { use b.{t}; use c.{u}; f: func(x: t) -> u; }",
        )],
        new: (
            "1.0.1",
            "package test:pkg@1.0.1; interface b { type t = u32; } interface c { use b.{t}; type u = t; } interface a { use b.{t}; use c.{u}; f: func(x: t) -> u; }",
        ),
        accepted: true,
    },
];
