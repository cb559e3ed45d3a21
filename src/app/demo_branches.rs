//! The party branches of the demo street: one per grid, serving it (香港花园社区 has thirteen,
//! as the real community party committee has thirteen area branches), each with an invented
//! roll: the first grid's branch has 41 members as the real one does, the others 8 to 25; about
//! one member in ten works in another city (流动党员) and a few have transferred out. The rolls
//! are the same on every start (a seeded generator). Names and phones are invented.
//!
//! With the diary (`--demo-diary`) the branches of 香港花园社区 also held a theme day a month and
//! a branch meeting a quarter over the last half year, each recorded by a demo secretary with its
//! roll (most present, mobile members online, a few absent with a reason) and three plain photos
//! (one colour per kind, as the page needs something to show); the latest may still be drafts.

use super::App;
use super::visits::DAY_MS;
use crate::auth::{NewUser, Role};
use crate::model::branches::{
    ActivityPhotoKind, ActivityType, Attendance, AttendanceStatus, MemberStatus, NewActivity,
    NewActivityPhoto, NewBranch, NewMember,
};
use crate::model::{Id, PlaceKind};
use crate::timestamp::{from_millis, now_millis};
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
/// The community whose branches have activities in the demo diary.
const ACTIVE_COMMUNITY: &str = "370202010003";
/// What the demo activities were about.
const THEMES: [&str; 6] = [
    "学习贯彻党的二十届四中全会精神",
    "网格党员认领民情责任田",
    "重温入党誓词",
    "垃圾分类进楼院志愿服务",
    "关爱独居老人主题党日",
    "党史学习：青岛解放",
];
/// Why members were absent.
const REASONS: [&str; 3] = ["住院", "出差", "照顾家人"];
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

    /// Invents the activities of 香港花园社区's branches over the last half year unless there are
    /// activities already; the demo branches must be loaded. Returns how many it stored.
    pub(super) async fn load_demo_activities(&self) -> anyhow::Result<usize> {
        let map = self.map_data();
        let Some(community) = map
            .places
            .iter()
            .find(|p| p.kind == PlaceKind::Community && p.code == ACTIVE_COMMUNITY)
        else {
            return Ok(0);
        };
        let branches: Vec<_> = map
            .branches
            .iter()
            .filter(|b| b.community_id == community.id)
            .cloned()
            .collect();
        let any = crate::model::branches::ActivityFilter {
            branch_ids: Some(branches.iter().map(|b| b.id).collect()),
            limit: 1,
            ..Default::default()
        };
        if branches.is_empty() || !self.store.activities(&any).await?.is_empty() {
            return Ok(0);
        }
        let secretary = self.demo_secretary(community.id).await?;
        let photos = demo_photos(self).await?;
        let mut rng = StdRng::seed_from_u64(16);
        let now = now_millis();
        let mut stored = 0;
        for branch in &branches {
            let roll = self.store.rolls(&[branch.id]).await?;
            let grid = branch
                .grid_ids
                .first()
                .and_then(|g| map.places.iter().find(|p| p.id == *g));
            const CENTRE: (f64, f64) = (120.3797, 36.0667);
            let place = grid
                .and_then(|g| geo::InteriorPoint::interior_point(&g.geometry))
                .map_or(CENTRE, |p| (p.x(), p.y()));
            // Six theme days, one a month, and two meetings, one a quarter; the branch's
            // diligence decides how many members come.
            let diligence = rng.random_range(0.7..0.97);
            let mut held: Vec<(i64, ActivityType)> = (0..6)
                .map(|month| {
                    (
                        now - (month * 30 + rng.random_range(1..25)) * DAY_MS,
                        ActivityType::ThemeDay,
                    )
                })
                .collect();
            held.extend([40, 130].map(|days| (now - days * DAY_MS, ActivityType::GeneralMeeting)));
            for (n, (at, kind)) in held.into_iter().enumerate() {
                let attendance = roll
                    .iter()
                    .map(|m| {
                        let status = if m.status == MemberStatus::Mobile {
                            AttendanceStatus::Online
                        } else if rng.random_bool(diligence) {
                            AttendanceStatus::Present
                        } else {
                            AttendanceStatus::Absent
                        };
                        Attendance {
                            member_id: m.id,
                            status,
                            reason: (status == AttendanceStatus::Absent)
                                .then(|| REASONS[rng.random_range(0..REASONS.len())].to_string()),
                        }
                    })
                    .collect();
                let activity = self
                    .store
                    .record_activity(&NewActivity {
                        branch_id: branch.id,
                        kind,
                        theme: THEMES[(n + branch.id as usize) % THEMES.len()].to_string(),
                        held_at: from_millis(at),
                        lon: place.0,
                        lat: place.1,
                        recorded_by: secretary,
                        recorded_at: from_millis(at + 3_600_000),
                        attendance,
                    })
                    .await?;
                // The latest theme day of a few branches waits for its minutes.
                let draft = n == 0 && rng.random_bool(0.3);
                for (kind, photo) in &photos {
                    if draft && *kind == ActivityPhotoKind::Minutes {
                        continue;
                    }
                    self.store
                        .put_activity_photo(&NewActivityPhoto {
                            activity_id: activity.id,
                            uploaded_by: secretary,
                            at: from_millis(at + 3_600_000),
                            ..photo.clone()
                        })
                        .await?;
                }
                stored += 1;
            }
        }
        Ok(stored)
    }

    /// The demo secretary of `community`, created on first use; like the demo cadres, they
    /// cannot log in.
    async fn demo_secretary(&self, community: Id) -> anyhow::Result<Id> {
        const LOGIN: &str = "demo-shuji";
        if let Some(found) = self.store.user_by_name(LOGIN).await? {
            return Ok(found.user.id);
        }
        let user = self
            .store
            .insert_user(&NewUser {
                name: LOGIN.into(),
                role: Role::Secretary,
                password_hash: "!demo account: no login".into(),
                display_name: Some("赵书记".into()),
                phone: None,
                community_id: Some(community),
                branch_id: None,
            })
            .await?;
        Ok(user.id)
    }
}

/// One plain photo of each kind (a colour each), processed as an upload is; the activity, the
/// uploader and the time are filled in per activity.
async fn demo_photos(app: &App) -> anyhow::Result<Vec<(ActivityPhotoKind, NewActivityPhoto)>> {
    let mut photos = Vec::new();
    for (kind, colour) in [
        (ActivityPhotoKind::Group, [200, 40, 40]),
        (ActivityPhotoKind::SignIn, [240, 230, 200]),
        (ActivityPhotoKind::Minutes, [220, 220, 230]),
    ] {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(640, 480, image::Rgb(colour))
            .write_to(&mut png, image::ImageFormat::Png)?;
        let original = png.into_inner();
        let bytes = original.clone();
        let processed = app
            .compute(move || crate::photos::process(&bytes))
            .await??;
        photos.push((
            kind,
            NewActivityPhoto {
                activity_id: 0,
                kind,
                media_type: processed.media_type.to_string(),
                width: processed.width,
                height: processed.height,
                original,
                public: processed.public,
                thumbnail: processed.thumbnail,
                taken_at: None,
                taken_position: None,
                flags: Vec::new(),
                uploaded_by: 0,
                at: String::new(),
            },
        ));
    }
    Ok(photos)
}
