//! The payload of a snapshot cache entry ([`super::snapshot_cache`]): a live snapshot
//! in MessagePack, laid out for decoding speed.
//!
//! ```text
//! (fingerprint, values, plans, archived, nodes)
//!   values: every distinct inherited Effective value, once (maps with named fields)
//!   nodes:  one fixed-order tuple per node (no field names), its users as tuples,
//!           its effective value as (active, index into values)
//! ```
//!
//! A node's fields are written by position: decoding then matches no field names and
//! buffers nothing (the model's `Effective` flattens its values, which serde can only
//! decode through a buffer). The inherited values are shared again on decoding, as the
//! database read shares them, and parents, plans, sources, users' languages and time
//! zones are interned.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Serialize, Serializer};

use super::Snapshot;
use crate::model::{
    Address, Archived, CompactString, Contact, CustomerType, Effective, Hierarchy, Inherited,
    Interner, LiveMeta, Node, NodeSpec, NodeType, Rare, Role, ServicePlan, SettingValue, Text,
    User,
};

/// Fields of a node's tuple.
const NODE_FIELDS: usize = 19;
/// Fields of a user's tuple.
const USER_FIELDS: usize = 5;

/// Writes `snapshot` as an entry payload.
pub fn write(writer: &mut impl std::io::Write, snapshot: &Snapshot) -> std::io::Result<()> {
    let mut serializer = rmp_serde::Serializer::new(writer).with_struct_map();
    Payload(snapshot)
        .serialize(&mut serializer)
        .map_err(std::io::Error::other)
}

/// Reads an entry payload; `None` when it is not one.
pub fn read(reader: &mut impl std::io::Read) -> Option<Snapshot> {
    let mut deserializer = rmp_serde::Deserializer::new(reader);
    PayloadSeed.deserialize(&mut deserializer).ok()
}

struct Payload<'a>(&'a Snapshot);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hierarchy = &self.0.hierarchy;
        let mut index: FxHashMap<*const Inherited, u32> = FxHashMap::default();
        let mut values: Vec<&Inherited> = Vec::new();
        for node in &hierarchy.nodes {
            if let Some(effective) = &node.effective {
                index
                    .entry(Arc::as_ptr(&effective.values))
                    .or_insert_with(|| {
                        values.push(&effective.values);
                        u32::try_from(values.len() - 1).unwrap_or(u32::MAX)
                    });
            }
        }
        let mut tuple = serializer.serialize_tuple(5)?;
        tuple.serialize_element(&self.0.fingerprint)?;
        tuple.serialize_element(&values)?;
        tuple.serialize_element(&hierarchy.plans)?;
        tuple.serialize_element(&hierarchy.archived)?;
        tuple.serialize_element(&Nodes {
            nodes: &hierarchy.nodes,
            index: &index,
        })?;
        tuple.end()
    }
}

struct Nodes<'a> {
    nodes: &'a [Node],
    index: &'a FxHashMap<*const Inherited, u32>,
}

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sequence = serializer.serialize_seq(Some(self.nodes.len()))?;
        for node in self.nodes {
            sequence.serialize_element(&NodeRow {
                node,
                index: self.index,
            })?;
        }
        sequence.end()
    }
}

struct NodeRow<'a> {
    node: &'a Node,
    index: &'a FxHashMap<*const Inherited, u32>,
}

impl Serialize for NodeRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Node {
            name,
            spec,
            adopt,
            live,
            effective,
        } = self.node;
        let NodeSpec {
            node_type,
            display_name,
            parent,
            active,
            customer_type,
            reseller,
            plan,
            address,
            contact,
            services,
            settings,
            locked_settings,
            users,
        } = spec;
        let LiveMeta {
            account_number,
            managed_by,
            archived,
        } = live;
        let effective = effective.as_ref().map(|effective| {
            let at = self.index.get(&Arc::as_ptr(&effective.values)).copied();
            (effective.active, at.unwrap_or(u32::MAX))
        });
        let mut tuple = serializer.serialize_tuple(NODE_FIELDS)?;
        tuple.serialize_element(name)?;
        tuple.serialize_element(node_type)?;
        tuple.serialize_element(display_name)?;
        tuple.serialize_element(parent)?;
        tuple.serialize_element(active)?;
        tuple.serialize_element(customer_type)?;
        tuple.serialize_element(reseller)?;
        tuple.serialize_element(plan)?;
        tuple.serialize_element(address)?;
        tuple.serialize_element(contact)?;
        tuple.serialize_element(services)?;
        tuple.serialize_element(settings)?;
        tuple.serialize_element(locked_settings)?;
        tuple.serialize_element(&Users(users))?;
        tuple.serialize_element(adopt)?;
        tuple.serialize_element(account_number)?;
        tuple.serialize_element(managed_by)?;
        tuple.serialize_element(archived)?;
        tuple.serialize_element(&effective)?;
        tuple.end()
    }
}

struct Users<'a>(&'a [User]);

impl Serialize for Users<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sequence = serializer.serialize_seq(Some(self.0.len()))?;
        for user in self.0 {
            let row = (
                &user.email,
                &user.name,
                user.role,
                user.language.as_deref(),
                user.timezone.as_deref(),
            );
            sequence.serialize_element(&row)?;
        }
        sequence.end()
    }
}

/// Reads the next element of a tuple, which must be there.
fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: &mut A) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom("a snapshot entry tuple is short"))
}

fn next_seeded<'de, S: DeserializeSeed<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    seed: S,
) -> Result<S::Value, A::Error> {
    seq.next_element_seed(seed)?
        .ok_or_else(|| de::Error::custom("a snapshot entry tuple is short"))
}

struct PayloadSeed;

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = Snapshot;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Snapshot, D::Error> {
        deserializer.deserialize_tuple(5, self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed {
    type Value = Snapshot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a snapshot cache payload")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Snapshot, A::Error> {
        let fingerprint: String = next(&mut seq)?;
        let values: Vec<Inherited> = next(&mut seq)?;
        let values: Vec<Arc<Inherited>> = values.into_iter().map(Arc::new).collect();
        let plans: Vec<ServicePlan> = next(&mut seq)?;
        let archived: Vec<Archived> = next(&mut seq)?;
        let mut interner = Interner::default();
        let nodes = next_seeded(
            &mut seq,
            NodesSeed {
                values: &values,
                interner: &mut interner,
            },
        )?;
        Ok(Snapshot {
            hierarchy: Hierarchy {
                nodes,
                plans,
                archived,
            },
            fingerprint,
        })
    }
}

struct NodesSeed<'a> {
    values: &'a [Arc<Inherited>],
    interner: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for NodesSeed<'_> {
    type Value = Vec<Node>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Node>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for NodesSeed<'_> {
    type Value = Vec<Node>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the nodes of a snapshot")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Node>, A::Error> {
        let mut nodes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(node) = seq.next_element_seed(NodeSeed {
            values: self.values,
            interner: &mut *self.interner,
        })? {
            nodes.push(node);
        }
        Ok(nodes)
    }
}

struct NodeSeed<'a> {
    values: &'a [Arc<Inherited>],
    interner: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_tuple(NODE_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node of a snapshot")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let name: CompactString = next(&mut seq)?;
        let node_type: NodeType = next(&mut seq)?;
        let display_name: CompactString = next(&mut seq)?;
        let parent = next_interned(&mut seq, self.interner)?;
        let active: bool = next(&mut seq)?;
        let customer_type: Option<CustomerType> = next(&mut seq)?;
        let reseller: bool = next(&mut seq)?;
        let plan = next_interned(&mut seq, self.interner)?;
        let address: Option<Box<Address>> = next(&mut seq)?;
        let contact: Option<Box<Contact>> = next(&mut seq)?;
        let services: Rare<BTreeMap<String, bool>> = next(&mut seq)?;
        let settings: Rare<BTreeMap<String, SettingValue>> = next(&mut seq)?;
        let locked_settings: Rare<Vec<String>> = next(&mut seq)?;
        let users = next_seeded(
            &mut seq,
            UsersSeed {
                interner: &mut *self.interner,
            },
        )?;
        let adopt: bool = next(&mut seq)?;
        let account_number: Option<i64> = next(&mut seq)?;
        let managed_by = next_interned(&mut seq, self.interner)?;
        let archived: bool = next(&mut seq)?;
        let effective: Option<(bool, u32)> = next(&mut seq)?;
        let effective = match effective {
            None => None,
            Some((active, at)) => {
                let values = usize::try_from(at)
                    .ok()
                    .and_then(|at| self.values.get(at))
                    .ok_or_else(|| de::Error::custom("an effective value out of range"))?;
                Some(Effective {
                    active,
                    values: Arc::clone(values),
                })
            }
        };
        Ok(Node {
            name,
            spec: NodeSpec {
                node_type,
                display_name,
                parent,
                active,
                customer_type,
                reseller,
                plan,
                address,
                contact,
                services,
                settings,
                locked_settings,
                users,
            },
            adopt,
            live: LiveMeta {
                account_number,
                managed_by,
                archived,
            },
            effective,
        })
    }
}

struct UsersSeed<'a> {
    interner: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for UsersSeed<'_> {
    type Value = Vec<User>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<User>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for UsersSeed<'_> {
    type Value = Vec<User>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the users of a node")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<User>, A::Error> {
        let mut users = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(user) = seq.next_element_seed(UserSeed {
            interner: &mut *self.interner,
        })? {
            users.push(user);
        }
        Ok(users)
    }
}

struct UserSeed<'a> {
    interner: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for UserSeed<'_> {
    type Value = User;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<User, D::Error> {
        deserializer.deserialize_tuple(USER_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for UserSeed<'_> {
    type Value = User;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user of a node")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<User, A::Error> {
        let email: Box<str> = next(&mut seq)?;
        let name: CompactString = next(&mut seq)?;
        let role: Role = next(&mut seq)?;
        let language = next_interned(&mut seq, self.interner)?;
        let timezone = next_interned(&mut seq, self.interner)?;
        Ok(User {
            email,
            name,
            role,
            language,
            timezone,
        })
    }
}

/// Reads the next element, an optional text, shared through `interner`.
fn next_interned<'de, A: SeqAccess<'de>>(
    seq: &mut A,
    interner: &mut Interner,
) -> Result<Option<Text>, A::Error> {
    next_seeded(seq, Interned { interner })
}

/// An optional text, shared through the interner (no allocation when seen before).
struct Interned<'a> {
    interner: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for Interned<'_> {
    type Value = Option<Text>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<Text>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Interned<'_> {
    type Value = Option<Text>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional text")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(self.interner.intern(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated hierarchy with every kind of field, as a snapshot holds it, comes
    /// back equal, with its effective values shared as they were written.
    #[test]
    fn a_snapshot_reads_back_equal_and_shared() {
        let mut hierarchy = crate::generate::hierarchy(400, 5);
        let shared = Arc::new(Inherited {
            services: BTreeMap::from([("invoice-capture".to_string(), true)]),
            settings: BTreeMap::from([("retention".to_string(), serde_json::json!(30))]),
            locked_settings: vec!["retention".to_string()],
        });
        for (position, node) in hierarchy.nodes.iter_mut().enumerate() {
            node.live.account_number = Some(1000 + position as i64);
            node.live.managed_by = (position % 3 != 0).then(|| "git".into());
            node.effective = (position % 5 != 0).then(|| Effective {
                active: position % 7 != 0,
                values: Arc::clone(&shared),
            });
            if position % 11 == 0 {
                node.spec.address = Some(Box::new(Address {
                    city: Some("Oslo".to_string()),
                    ..Address::default()
                }));
                node.spec.contact = Some(Box::new(Contact {
                    email: Some("it@example.com".to_string()),
                    ..Contact::default()
                }));
            }
        }
        hierarchy.archived.push(Archived {
            name: "gone".into(),
            parent: None,
            managed_by: Some("git".into()),
            account_number: Some(7),
        });
        let snapshot = Snapshot {
            hierarchy,
            fingerprint: "abc".to_string(),
        };
        assert!(
            snapshot
                .hierarchy
                .nodes
                .iter()
                .any(|node| !node.spec.users.is_empty())
        );
        let mut bytes = Vec::new();
        write(&mut bytes, &snapshot).expect("encodes");
        let decoded = read(&mut bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.hierarchy, snapshot.hierarchy);
        assert_eq!(decoded.fingerprint, snapshot.fingerprint);
        let values: Vec<&Arc<Inherited>> = decoded
            .hierarchy
            .nodes
            .iter()
            .filter_map(|node| node.effective.as_ref().map(|effective| &effective.values))
            .collect();
        assert!(values.len() > 100);
        assert!(values.iter().all(|value| Arc::ptr_eq(value, values[0])));
        assert!(
            read(&mut &bytes[..bytes.len() - 1]).is_none(),
            "a cut entry"
        );
    }
}
