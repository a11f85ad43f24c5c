//! The Redis-shared buckets against a real Redis (`RAMPART_TEST_REDIS_URL`).

#![allow(clippy::unwrap_used)]

use rampart_edge::{Rate, RedisRate, SharedRate};
use std::time::Duration;

async fn redis(test: &str) -> Option<std::sync::Arc<RedisRate>> {
    let Some(url) = std::env::var("RAMPART_TEST_REDIS_URL").ok().filter(|s| !s.is_empty()) else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("SKIPPED {test}: RAMPART_TEST_REDIS_URL is not set");
        }
        return None;
    };
    // A prefix of its own: runs and tests do not share buckets.
    Some(RedisRate::connect(&url, &format!("test-{}", uuid::Uuid::now_v7())).await.unwrap())
}

#[tokio::test]
async fn two_limiters_on_one_redis_share_the_bucket() {
    let Some(r) = redis("two_limiters_on_one_redis_share_the_bucket").await else { return };
    let rate = Rate { n: 3, window: Duration::from_secs(30), burst: 3 };
    // Two replicas' limiters for the same rule.
    let a = SharedRate::<String>::new("ip-rate", rate, Some(r.clone()));
    let b = SharedRate::<String>::new("ip-rate", rate, Some(r.clone()));
    let k = "203.0.113.7".to_owned();
    let d1 = a.check(&k).await;
    let d2 = b.check(&k).await;
    let d3 = a.check(&k).await;
    assert!(d1.allowed && d2.allowed && d3.allowed);
    assert_eq!((d1.remaining, d2.remaining, d3.remaining), (2, 1, 0));
    assert_eq!(d1.limit, 3);
    let refused = b.check(&k).await;
    assert!(!refused.allowed, "{refused:?}");
    // One request refills every 10 s.
    assert!((9..=10).contains(&refused.retry_after), "{refused:?}");
    assert_eq!(refused.headers().last().unwrap(), &("retry-after", refused.retry_after.to_string()));
    // Other keys and other rules have their own buckets.
    assert!(a.check(&"198.51.100.1".to_owned()).await.allowed);
    let other_rule = SharedRate::<String>::new("auth-rate", rate, Some(r.clone()));
    assert!(other_rule.check(&k).await.allowed);
    assert_eq!(r.fallbacks.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_bucket_refills_at_its_rate() {
    let Some(r) = redis("a_bucket_refills_at_its_rate").await else { return };
    let rate = Rate { n: 10, window: Duration::from_secs(1), burst: 1 };
    let l = SharedRate::<String>::new("user-rate", rate, Some(r));
    let k = "u".to_owned();
    assert!(l.check(&k).await.allowed);
    assert!(!l.check(&k).await.allowed, "burst of one");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(l.check(&k).await.allowed, "100 ms later a request has refilled");
}

#[tokio::test]
async fn an_unreachable_redis_stops_start_up() {
    let e = RedisRate::connect("redis://127.0.0.1:1/0", "x").await.unwrap_err();
    assert!(e.contains("edge.redis_url"), "{e}");
}
