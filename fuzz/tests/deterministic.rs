//! Every fuzz target's check over its seeds (which include every crash ever found) and a fixed
//! sequence of mutations of them, in the ordinary test suite. `cargo xtask fuzz` goes further
//! with libFuzzer.

use wreg_fuzz::{TARGETS, check_for, mutate, seeds};

/// Mutations per seed: enough to reach every error path of the small formats quickly in a
/// debug build (about 50,000 inputs in all).
const ROUNDS: usize = 2500;

#[test]
fn every_target_holds_on_its_seeds_and_their_mutations() {
    for target in TARGETS {
        let check = check_for(target).expect("a check for each target");
        let seeds = seeds(target);
        let tried = mutate::run(&seeds, ROUNDS, check);
        assert_eq!(tried, seeds.len() * (ROUNDS + 1));
    }
}

#[test]
fn the_config_check_sees_both_outcomes() {
    // A check that only ever sees errors (or only successes) proves little.
    let (mut loaded, mut refused) = (0, 0);
    mutate::run(&seeds("config"), 1000, |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        if text.contains('\x01') {
            return;
        }
        match registry_config::Config::from_toml_str("fuzz.toml", text) {
            Ok(_) => loaded += 1,
            Err(_) => refused += 1,
        }
    });
    assert!(
        loaded > 100 && refused > 100,
        "{loaded} loaded, {refused} refused"
    );
}

#[test]
fn every_target_has_a_binary_and_seeds() {
    let manifest = include_str!("../Cargo.toml");
    for target in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "no [[bin]] for {target}"
        );
        assert!(!seeds(target).is_empty());
    }
}
