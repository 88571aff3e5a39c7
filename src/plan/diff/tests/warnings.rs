//! Warnings: similar names, inheritance effects, determinism of the whole plan.

use rstest::rstest;

use super::{example_pair, plan};
use crate::model::Hierarchy;
use crate::plan::diff::similar::{normalize, similarity};
use crate::plan::fixtures::{customer, edit};

fn with_created(desired: Hierarchy, name: &str, parent: &str, display: &str) -> Hierarchy {
    let mut created = customer(name, parent);
    created.spec.display_name = display.into();
    Hierarchy::new(
        desired.nodes.into_iter().chain([created]).collect(),
        desired.plans,
    )
}

#[rstest]
#[case::punctuation_and_case("ACME Europe, Inc.", "acme europe")]
#[case::legal_forms("Nordic Print GmbH & Co. KG", "nordic print")]
#[case::only_a_legal_form("AG", "")]
#[case::umlauts_spelled_out("Müller-Lüdenscheid AG", "mueller luedenscheid")]
#[case::accents_dropped("Fika Café AB", "fika cafe")]
fn display_names_are_normalized(#[case] display: &str, #[case] expected: &str) {
    assert_eq!(normalize(display), expected);
}

#[rstest]
#[case::a_different_legal_form("ACME EU AG", Some("acme-eu"))]
#[case::a_typo("Acme Euu", Some("acme-eu"))]
#[case::a_typo_in_the_first_letter("Ecme Eu", Some("acme-eu"))]
#[case::a_different_number("Acme Eu 2", None)]
#[case::a_different_one_letter_word("Acme Eu B", None)]
#[case::an_unrelated_name("Globex Corporation", None)]
fn creating_an_account_warns_about_a_similar_display_name(
    #[case] display: &str,
    #[case] similar_to: Option<&str>,
) {
    let (live, desired) = example_pair();
    let desired = with_created(desired, "acme-new", "partner-nordic", display);
    let plan = plan(&live, &desired);
    let warned: Vec<(&str, &str)> = plan
        .warnings
        .iter()
        .map(|warning| (warning.code.as_str(), warning.name.as_str()))
        .collect();
    match similar_to {
        Some(other) => {
            assert_eq!(warned, [("similar-name", "acme-new")]);
            let message = &plan.warnings[0].message;
            assert!(
                message.contains(&format!("account {other} (\"Acme Eu\", score ")),
                "{message}"
            );
        }
        None => assert!(warned.is_empty(), "{:?}", plan.warnings),
    }
}

#[rstest]
#[case::numbered_shops("Shop One", "Shop Ten", false)]
#[case::a_sub_division("MegaCorp Inc.", "MegaCorp HR", false)]
#[case::a_department_of_a_longer_name("Nordic Print Services", "Nordic Print Services HR", false)]
#[case::different_regions("Store North", "Store South", false)]
#[case::unrelated("Globex Corporation", "Initech", false)]
#[case::case_and_punctuation("ACME GmbH", "Acme GmbH.", true)]
#[case::an_umlaut_spelled_out("Müller AG", "Mueller AG", true)]
#[case::an_accent("Fika Café AB", "Fika Cafe", true)]
#[case::a_doubled_letter("Nordic Print", "Nordic Priint", true)]
#[case::a_swapped_pair("Initech Europe", "Intiech Europe", true)]
#[case::another_legal_form("Globex Nordic", "Globex Nordic Ltd.", true)]
fn near_duplicates_warn_and_deliberately_alike_names_do_not(
    #[case] a: &str,
    #[case] b: &str,
    #[case] warns: bool,
) {
    assert_eq!(
        similarity(a, b).is_some(),
        warns,
        "{a:?} / {b:?}: {:?}",
        similarity(a, b)
    );
    assert_eq!(similarity(b, a).is_some(), warns, "{b:?} / {a:?}");
}

fn similar_names(plan: &crate::plan::Plan) -> Vec<&str> {
    plan.warnings
        .iter()
        .filter(|warning| warning.code == "similar-name")
        .map(|warning| warning.message.as_str())
        .collect()
}

#[test]
fn two_new_similar_accounts_under_different_parents_warn_once() {
    let (live, desired) = example_pair();
    let desired = with_created(desired, "globex-a", "partner-x", "Globex Nordic");
    let desired = with_created(desired, "globex-b", "partner-nordic", "Globex Nordic Ltd.");
    let plan = plan(&live, &desired);
    assert_eq!(
        similar_names(&plan),
        [
            "display name \"Globex Nordic\" is similar to account globex-b (\"Globex Nordic Ltd.\", score 1.00)"
        ]
    );
}

#[test]
fn siblings_created_together_do_not_warn_about_each_other() {
    let (live, desired) = example_pair();
    let desired = with_created(desired, "globex-a", "partner-x", "Globex Nordic");
    let desired = with_created(desired, "globex-b", "partner-x", "Globex Nordic Ltd.");
    let plan = plan(&live, &desired);
    assert_eq!(similar_names(&plan), Vec::<&str>::new());
}

#[test]
fn an_account_does_not_warn_about_its_ancestors() {
    let (live, desired) = example_pair();
    // partner-nordic ("Partner Nordic") is the new customer's grandparent, through the
    // customer group nordic-smb: a customer named after its reseller is no duplicate.
    let desired = with_created(desired, "nordic-own", "nordic-smb", "Partner Nordic GmbH");
    let plan = plan(&live, &desired);
    assert_eq!(
        similar_names(&plan),
        Vec::<&str>::new(),
        "{:?}",
        plan.warnings
    );
    let unrelated = with_created(
        example_pair().1,
        "nordic-own",
        "partner-x",
        "Partner Nordic GmbH",
    );
    assert_eq!(similar_names(&super::plan(&live, &unrelated)).len(), 1);
}

#[test]
fn disabling_a_service_on_a_partner_warns_how_many_accounts_lose_it() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "partner-nordic", |node| {
        node.spec
            .services
            .insert("invoice-capture".to_string(), false);
    });
    let plan = plan(&live, &desired);
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].code, "service-cascade");
    assert_eq!(
        plan.warnings[0].message,
        "disabling invoice-capture on partner-nordic makes it unavailable to 3 account(s)"
    );
    assert!(
        plan.writes.effective.iter().all(|(_, effective)| effective
            .values
            .services
            .get("invoice-capture")
            == Some(&false))
    );
}

#[test]
fn locking_a_setting_that_children_override_warns() {
    let (mut live, mut desired) = example_pair();
    for hierarchy in [&mut live, &mut desired] {
        edit(hierarchy, "acme-de", |node| {
            node.spec
                .settings
                .insert("passwordExpiryDays".to_string(), 365.into());
        });
    }
    live = crate::plan::fixtures::live_of(&live, Some(crate::plan::fixtures::SOURCE));
    edit(&mut desired, "partner-nordic", |node| {
        node.spec
            .settings
            .insert("passwordExpiryDays".to_string(), 90.into());
        node.spec
            .locked_settings
            .push("passwordExpiryDays".to_string());
    });
    let plan = plan(&live, &desired);
    let codes: Vec<&str> = plan.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, ["setting-cascade"]);
    assert!(
        plan.warnings[0]
            .message
            .ends_with("changes its effective value for 3 account(s)"),
        "{}",
        plan.warnings[0].message
    );
}

#[test]
fn the_same_inputs_give_a_byte_identical_plan_whatever_their_order() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    edit(&mut desired, "acme-de", |node| {
        node.spec.parent = Some("nordic-smb".into())
    });
    let desired = with_created(desired, "acme-new", "partner-nordic", "ACME EU GmbH");
    let first = serde_json::to_string(&plan(&live, &desired)).unwrap_or_default();
    let mut shuffled = desired.clone();
    shuffled.nodes.reverse();
    shuffled.plans.reverse();
    let mut shuffled_live = live.clone();
    shuffled_live.nodes.rotate_left(5);
    for _ in 0..3 {
        let again = serde_json::to_string(&plan(&shuffled_live, &shuffled)).unwrap_or_default();
        assert_eq!(first, again);
    }
    assert!(first.contains("\"similar-name\""), "{first}");
}
