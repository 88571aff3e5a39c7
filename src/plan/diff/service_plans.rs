//! Service plan changes: created and updated plans go first in a plan (nodes may refer
//! to them), deleted ones last (after the nodes that used them have moved on).

use crate::model::{Kind, ServicePlan, Text};
use crate::plan::{Op, Plan};

use super::Planner;
use super::changes::change;
use super::fields::{adoption_field, insert_sorted, plan_fields};
use super::join::Role;

impl Planner<'_, '_> {
    pub(super) fn plan_service_plans(&self, plan: &mut Plan) {
        for entry in self.plans {
            let Some(desired) = entry.desired else {
                continue;
            };
            let changed = match (entry.role, entry.live) {
                (Role::Create, _) => {
                    plan.changes
                        .push(change(Op::Create, Kind::ServicePlan, entry.name));
                    true
                }
                (Role::Managed | Role::Adopt, Some(live)) => {
                    let mut fields = plan_fields(&live.spec, &desired.spec);
                    if entry.role == Role::Adopt {
                        insert_sorted(&mut fields, adoption_field(&self.options.source));
                    }
                    let changed = !fields.is_empty();
                    if changed {
                        let mut update = change(Op::Update, Kind::ServicePlan, entry.name);
                        update.fields = fields;
                        plan.changes.push(update);
                    }
                    changed
                }
                _ => false,
            };
            if changed {
                plan.writes.plans.push(self.plan_row(desired));
            }
        }
    }

    pub(super) fn plan_service_plan_deletes(&self, plan: &mut Plan) {
        for entry in self.plans.iter().filter(|entry| entry.role == Role::Pruned) {
            plan.changes
                .push(change(Op::Delete, Kind::ServicePlan, entry.name));
            plan.writes.archive_plans.push(entry.name.to_string());
        }
    }

    /// The row the store writes: the desired plan, owned by this source.
    fn plan_row(&self, desired: &ServicePlan) -> ServicePlan {
        let mut row = desired.clone();
        row.adopt = false;
        row.live.managed_by = Some(Text::from(self.options.source.as_str()));
        row
    }
}
