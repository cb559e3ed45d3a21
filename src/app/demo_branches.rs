//! The party branches of the demo street: one per grid, serving it (香港花园社区 has thirteen,
//! as the real community party committee has thirteen area branches), each with an invented
//! roll: the first grid's branch has 41 members as the real one does, the others 8 to 25; about
//! one member in ten works in another city (流动党员) and a few have transferred out. The rolls
//! are the same on every start (a seeded generator). Names and phones are invented.

use super::App;
use crate::model::PlaceKind;
use crate::model::branches::{MemberStatus, NewBranch, NewMember};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The grid whose branch has the 41 members of the real case.
const LARGE_BRANCH_GRID: &str = "370202010003001";
const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "建华", "桂兰",
];
/// Where mobile members work.
const CITIES: [&str; 5] = ["深圳", "上海", "北京", "杭州", "济南"];

impl App {
    /// Creates the demo branches and their rolls unless the store holds branches already; the
    /// demo street must be loaded.
    pub(super) async fn load_demo_branches(&self) -> anyhow::Result<()> {
        if !self.branches().is_empty() {
            return Ok(());
        }
        let map = self.map_data();
        let mut grids: Vec<_> = map
            .places
            .iter()
            .filter(|p| p.kind == PlaceKind::Grid)
            .filter_map(|g| g.parent_id.map(|community| (g, community)))
            .collect();
        grids.sort_by(|a, b| a.0.code.cmp(&b.0.code));
        let branches: Vec<NewBranch> = grids
            .iter()
            .map(|(grid, community)| NewBranch {
                code: format!("DZB{}", grid.code),
                name: format!("{}党支部", grid.name),
                community_id: *community,
                grid_ids: vec![grid.id],
            })
            .collect();
        self.import_branches(&branches, None).await?;
        let mut rng = StdRng::seed_from_u64(15);
        let mut phone = 13_900_000_000u64;
        for branch in self.branches().iter() {
            let size = if branch.code.ends_with(LARGE_BRANCH_GRID) {
                41
            } else {
                rng.random_range(8..=25)
            };
            let roll: Vec<NewMember> = (0..size)
                .map(|_| {
                    phone += rng.random_range(1..=97);
                    let status = match rng.random_range(0..100) {
                        0..10 => MemberStatus::Mobile,
                        10..13 => MemberStatus::Transferred,
                        _ => MemberStatus::Active,
                    };
                    NewMember {
                        name: format!(
                            "{}{}",
                            SURNAMES[rng.random_range(0..SURNAMES.len())],
                            GIVEN[rng.random_range(0..GIVEN.len())]
                        ),
                        phone: phone.to_string(),
                        joined_on: format!(
                            "{}-{:02}-{:02}",
                            rng.random_range(1975..=2024),
                            rng.random_range(1..=12),
                            rng.random_range(1..=28)
                        ),
                        status,
                        city: (status == MemberStatus::Mobile)
                            .then(|| CITIES[rng.random_range(0..CITIES.len())].to_string()),
                    }
                })
                .collect();
            self.store.import_members(branch.id, &roll, None).await?;
        }
        Ok(())
    }
}
