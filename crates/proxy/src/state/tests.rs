//! The session's states driven by hand: events in, actions and the next state out, with a clock of the test's
//! own.

use std::time::{Duration, Instant};

use bytes::Bytes;
use orrery_proto::v1::{self, ErrorCode, server_envelope::Body as S};

use super::{Action, Flow, SessionState, Space, Step};

const TIMEOUT: Duration = Duration::from_secs(5);

fn code(refusal: &super::Refusal) -> Option<ErrorCode> {
    match refusal.envelope().body {
        Some(S::Error(error)) if error.reason == refusal.reason => Some(error.code()),
        _ => None,
    }
}

fn flying(ship_id: u64, system: u32) -> SessionState {
    let mut state = SessionState::default();
    state.logged_in(1);
    state.entering(ship_id, system);
    state.entered(system, ship_id, Bytes::from_static(b"snapshot"));
    state
}

#[test]
fn nothing_but_a_login_opens_the_way_to_space() {
    let state = SessionState::default();
    assert_eq!(state.require_account(3).map_err(|e| code(&e)), Err(Some(ErrorCode::NotLoggedIn)));
    assert_eq!(state.may_undock(4).map_err(|e| (e.request_id, code(&e))), Err((4, Some(ErrorCode::NotLoggedIn))));
    assert_eq!(state.command_target(5).map_err(|e| code(&e)), Err(Some(ErrorCode::NotLoggedIn)));
}

#[test]
fn an_undock_becomes_flight_when_the_snapshot_arrives() {
    let mut state = SessionState::default();
    state.logged_in(7);
    assert_eq!(state.may_undock(1), Ok(7));
    state.entering(10, 30);
    assert_eq!(state.command_target(2).map_err(|e| code(&e)), Err(Some(ErrorCode::NotInSpace)), "not yet in space");
    assert_eq!(state.may_undock(3).map_err(|e| code(&e)), Err(Some(ErrorCode::AlreadyInSpace)));
    let step = state.entered(30, 10, Bytes::from_static(b"snapshot"));
    assert_eq!(
        step,
        Step {
            actions: vec![Action::Pass(Bytes::from_static(b"snapshot")), Action::JoinRoom(30)],
            flow: Flow::Continue
        }
    );
    assert_eq!(state.space(), Space::Flying { ship_id: 10, system: 30 });
    assert_eq!(state.command_target(4), Ok((10, 30)));
}

#[test]
fn a_jump_moves_the_session_from_one_room_to_the_next() {
    let mut state = flying(10, 30);
    let step = state.entered(31, 10, Bytes::from_static(b"there"));
    assert_eq!(
        step.actions,
        vec![Action::LeaveRoom(30), Action::Pass(Bytes::from_static(b"there")), Action::JoinRoom(31)]
    );
    assert_eq!(state.command_target(1), Ok((10, 31)));
}

#[test]
fn a_ship_entering_for_a_docked_session_is_sent_back_out() {
    let mut state = SessionState::default();
    state.logged_in(1);
    let step = state.entered(30, 10, Bytes::new());
    assert_eq!(step.actions, vec![Action::SendOutOfSpace { system: 30, ship_id: 10, answer: None }]);
    assert_eq!(state.space(), Space::Docked);
}

#[test]
fn a_logout_in_space_waits_for_the_store_then_closes() {
    let now = Instant::now();
    let mut state = flying(10, 30);
    let step = state.logout(8, now, TIMEOUT);
    assert_eq!(
        step,
        Step {
            actions: vec![Action::SendOutOfSpace { system: 30, ship_id: 10, answer: Some(8) }],
            flow: Flow::Continue
        }
    );
    assert_eq!(state.leave_deadline(), Some(now + TIMEOUT));
    assert_eq!(state.logout(9, now, TIMEOUT).actions, vec![], "a second logout adds nothing");
    let step = state.left(Bytes::from_static(b"ok"));
    assert_eq!(
        step,
        Step { actions: vec![Action::Pass(Bytes::from_static(b"ok")), Action::LeaveRoom(30)], flow: Flow::Close }
    );
    assert_eq!(state.space(), Space::Docked);
}

#[test]
fn a_logout_that_is_not_confirmed_is_answered_at_its_deadline() {
    let mut state = flying(10, 30);
    state.logout(8, Instant::now(), TIMEOUT);
    let step = state.leave_timed_out();
    assert_eq!(step.flow, Flow::Close);
    assert!(matches!(
        step.actions.as_slice(),
        [Action::Send(v1::ServerEnvelope { request_id: 8, body: Some(S::Ok(_)) })]
    ));
    assert_eq!(
        state.closing(),
        vec![Action::LeaveRoom(30), Action::SendOutOfSpace { system: 30, ship_id: 10, answer: None }],
        "the ship is still sent out when the connection closes"
    );
}

#[test]
fn a_ship_that_arrives_after_a_logout_began_is_sent_out_where_it_arrived() {
    let now = Instant::now();
    let mut state = flying(10, 30);
    state.logout(8, now, TIMEOUT);
    let step = state.entered(31, 10, Bytes::from_static(b"late snapshot"));
    assert_eq!(step.actions, vec![Action::SendOutOfSpace { system: 31, ship_id: 10, answer: Some(8) }]);
    assert_eq!(state.space(), Space::Leaving { ship_id: 10, system: 31, deadline: now + TIMEOUT, request_id: 8 });
}

#[test]
fn a_docked_logout_is_answered_at_once_and_closes() {
    let mut state = SessionState::default();
    let step = state.logout(2, Instant::now(), TIMEOUT);
    assert_eq!(step.flow, Flow::Close);
    assert!(matches!(
        step.actions.as_slice(),
        [Action::Send(v1::ServerEnvelope { request_id: 2, body: Some(S::Ok(_)) })]
    ));
}

#[test]
fn a_refused_undock_docks_the_session_again_without_closing() {
    let mut state = SessionState::default();
    state.logged_in(1);
    state.entering(10, 30);
    let step = state.left(Bytes::from_static(b"error"));
    assert_eq!(step, Step { actions: vec![Action::Pass(Bytes::from_static(b"error"))], flow: Flow::Continue });
    assert_eq!(state.may_undock(3), Ok(1));
}

#[test]
fn a_closing_connection_takes_a_ship_on_its_way_in_out_of_space() {
    let mut state = SessionState::default();
    state.logged_in(1);
    state.entering(10, 30);
    assert_eq!(
        state.closing(),
        vec![Action::LeaveRoom(30), Action::SendOutOfSpace { system: 30, ship_id: 10, answer: None }]
    );
    assert_eq!(state.closing(), vec![], "closing twice sends nothing more");
}

mod model;
