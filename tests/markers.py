"""The test pyramid's markers, applied in one place: unit, integration, e2e, chaos, slow, desktop.

unit: asks for no fixture that touches the world (no tmp_path, no engine, no shared model); integration: real
SQLite, exiftool, watchdog (the default); e2e: the real `image-engine run` process (the `engine_factory` fixture,
or `tests.support.Engine` started by the test itself); chaos: tests/chaos/; desktop: a real X session; slow: what
`--durations` showed takes several seconds. The quick loop is `scripts/run-tests.sh -m "not slow and not chaos"`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Fixtures that leave the test's own memory alone: a test asking for nothing else is a unit test.
HARMLESS_FIXTURES = frozenset({"request", "monkeypatch", "caplog", "capsys", "capfd", "recwarn", "no_leaked_threads"})
E2E_FIXTURES = frozenset({"engine_factory"})
DESKTOP_FILES = frozenset({"test_tray_desktop.py"})
# Files whose tests start the engine process through tests.support.Engine themselves.
E2E_FILES = frozenset(
    {
        "test_cli_config_anywhere.py",
        "test_crash.py",
        "test_guard_leftovers.py",
        "test_people.py",
        "test_service.py",
        "test_service_tmp.py",
        "test_tray_desktop.py",
        "test_web_browser.py",
    }
)
# Slow: whole files, tests that share a model loaded once per module, and single tests that took 7 s or more in a
# full run (`--durations=0`, on the 2-core test machine under load: about a third of that when idle).
SLOW_FILES = frozenset(
    {"test_clip.py", "test_cluster.py", "test_crash.py", "test_tray_desktop.py", "test_web_browser.py"}
)
SLOW_FIXTURES = frozenset({"imagenet", "corpus_predictions"})
SLOW_TESTS = frozenset(
    {
        "test_ingest_fast.py::test_perceptual_hashes_equal_imagehash_on_every_corpus_jpeg_and_png",
        "test_status_today_and_tags_api.py::test_done_today_counts_from_local_midnight",
        "test_messages.py::test_dupes_shows_the_real_difference_prefers_upright_and_says_what_resolve_would_do",
        "test_messages.py::test_a_metadata_write_that_fails_says_the_cause_once_and_what_to_do",
        "test_reconcile.py::test_scan_waits_for_the_intake_and_finds_what_went_missing",
        "test_messages.py::test_tags_and_similar_on_a_file_that_failed_say_it_failed_and_why",
        "test_analyzers.py::test_an_enabled_plugin_that_is_not_installed_makes_photos_wait_and_says_why",
        "test_gpu.py::test_gpu_gate_holds_heavy_jobs_waiting_then_runs_them",
        "test_schedule.py::test_work_hours_gate_holds_heavy_jobs_and_light_ones_run",
        "test_messages.py::test_the_library_is_watched_edits_are_read_again_and_deletions_marked",
        "test_messages.py::test_a_second_copy_of_a_filed_photo_says_so_and_follows_rename_duplicates",
        "test_messages.py::test_a_listing_piped_into_head_ends_quietly",
        "test_learn.py::test_a_learned_keyword_rejected_in_the_review_app_is_removed_there_and_the_keyword_retrains",
        "test_learn.py::test_examples_taught_before_they_were_tagged_are_learned_once_they_are",
        "test_learn.py::test_untaught_photos_of_the_same_subject_in_the_sample_no_longer_make_it_refuse",
        "test_vocabulary_feedback.py::test_the_running_engine_reports_and_exports_what_corrections_changed",
        "test_web_teach.py::test_ticked_photos_teach_the_keyword_and_it_is_learned_on_the_photos_of_that_kind",
        "test_web_thumbs.py::test_photos_without_thumbnails_get_them_in_the_background_after_a_start",
        "test_analyzers.py::test_the_example_plugin_tags_the_file_and_a_crashing_one_fails_only_itself",
        "test_dedup.py::test_near_duplicates_join_their_original_and_similar_shots_stay_apart",
        "test_dedup.py::test_crops_and_screenshots_join_their_photo_by_embedding_and_pixels",
        "test_dedup_choices.py::test_a_trashed_copy_moves_to_the_duplicates_folder_undo_lists_it_and_resolve_keeps_the_choice",
        "test_dedup_choices.py::test_keep_suggested_trashes_the_copies_of_undecided_groups_only",
        "test_dedup_service.py::test_an_exact_copy_of_a_library_photo_is_not_filed_again",
        "test_dedup_service.py::test_move_policy_files_the_duplicates_under_the_duplicates_folder",
        "test_dedup_service.py::test_not_duplicates_by_path_and_errors_name_the_problem",
        "test_dedup_service.py::test_not_duplicates_survives_restart_rescan_and_a_changed_file",
        "test_dedup_service.py::test_policy_decisions_through_the_service_across_a_restart",
        "test_dedup_service.py::test_resolve_applies_the_policy_after_a_bigger_copy_takes_over",
        "test_dedup_service.py::test_resolve_moves_a_former_keeper_into_the_duplicates_folder",
        "test_dedup_service.py::test_tag_policy_writes_the_keyword_into_the_duplicates",
        "test_keyword_tree.py::test_a_tagged_cat_photo_carries_one_keyword_tree_with_facts_last",
        "test_places.py::test_gps_photos_are_filed_by_country_and_city_and_the_place_is_stored_shown_and_written",
        "test_taken.py::test_each_step_of_the_chain_files_a_real_photo_under_its_own_date",
        "test_learn.py::test_teaching_from_examples_tags_unseen_photos_of_that_kind_and_untaught_removes_only_learned_copies",
        "test_metadata.py::test_a_users_caption_is_never_replaced",
        "test_people.py::test_faces_are_found_grouped_named_and_written_where_other_programs_read_them",
        "test_people.py::test_a_missing_or_broken_face_model_makes_jobs_wait_with_the_reason",
        "test_people_store.py::test_grouping_follows_the_users_word",  # imports scikit-learn (DBSCAN)
        "test_people_web.py::test_people_are_listed_with_their_face_and_named_from_the_page",
        "test_people_models.py::test_faces_are_found_described_and_the_models_unloaded_when_idle",
        "test_metadata.py::test_every_format_reads_back_with_exiftool",
        "test_metadata.py::test_existing_keywords_are_kept_and_merged_without_case_duplicates",
        "test_metadata.py::test_provenance_namespace_tells_engine_keywords_from_the_users",
        "test_metadata.py::test_replace_removes_only_what_the_engine_wrote",
        "test_metadata.py::test_sidecars_follow_the_naming_and_merge_with_existing_ones",
        "test_metadata_engine.py::test_engine_writes_keywords_into_an_in_place_folder_exactly_once",
        "test_metadata_exiftool.py::test_a_batch_larger_than_the_pipes_completes",
        "test_metadata_exiftool.py::test_exiftool_killed_mid_batch_is_restarted_and_the_batch_completes",
        "test_ocr.py::test_a_page_upside_down_or_on_its_side_reads_in_order",
        "test_ocr.py::test_a_tight_crop_of_one_line_is_read_and_its_box_stays_inside_the_picture",
        "test_ocr.py::test_the_gate_finds_text_in_signs_and_a_dense_page_and_none_in_photos_without_text",
        "test_quality.py::test_a_burst_marks_its_best_frame_in_the_file_and_the_mark_moves_to_a_sharper_late_frame",
        "test_quality.py::test_keeper_rule_best_quality_keeps_the_sharp_copy_over_a_bigger_blurred_one",
        "test_sensitive.py::test_a_flagged_photo_gets_the_keyword_and_is_filed_into_the_private_folder",
        "test_ocr.py::test_ocr_text_is_stored_searchable_and_written_into_the_file",
        "test_probe.py::test_every_corpus_photo_format_probes",
        "test_rename.py::test_a_drop_of_100_photos_is_filed_with_counters_and_undo_all_restores_every_path",
        "test_rename.py::test_dry_run_records_the_plan_and_moves_nothing_until_it_is_turned_off",
        "test_rename.py::test_kill_9_during_a_run_of_50_files_then_restart_files_each_exactly_once",
        "test_rename.py::test_open_intents_are_finished_or_rolled_back_from_the_disk_at_start_up",
        "test_rename.py::test_raw_jpeg_and_sidecars_move_together_under_one_new_stem",
        "test_rename.py::test_the_engines_own_moves_never_queue_new_jobs_in_watched_folders",
        "test_schedule.py::test_periodic_rescan_finds_a_file_the_polling_watcher_has_not_seen",
        "test_service.py::test_engine_reports_ready_status_watchdog_and_stopping",
        "test_service.py::test_real_user_manager_runs_the_unit",
        "test_service_tmp.py::test_real_user_manager_starts_a_unit_run_from_tmp",
        "test_search.py::test_search_through_the_engine_finds_cats_filters_by_date_and_forgets_deleted_photos",
        "test_search.py::test_with_a_clip_backend_search_merges_image_similarity",
        "test_spine.py::test_broken_files_fail_with_a_reason_and_stay_byte_identical",
        "test_spine.py::test_control_api_needs_the_token_and_refuses_browsers",
        "test_spine.py::test_fifty_photos_are_done_with_the_exif_exiftool_reports",
        "test_spine.py::test_pause_and_resume_through_the_cli_and_pause_survives_restart",
        "test_tagging.py::test_idle_engine_with_the_default_tagger_imports_no_framework",
        "test_tagging.py::test_missing_model_waits_then_tags_once_the_file_appears",
        "test_trace.py::test_a_filed_photo_can_be_traced_from_its_old_and_new_name",
        "test_tray.py::test_poller_and_actions_drive_the_real_service_and_survive_its_restart",
        "test_undo_offline_and_refile.py::test_undo_without_the_service_then_refile_with_and_without_it",
        "test_watch.py::test_restart_reconciles_what_changed_while_down",
        "test_watch.py::test_scan_command_reports_progress_and_counts",
        "test_watch.py::test_slow_chunked_copy_is_processed_once_after_it_is_whole",
    }
)


def markers_for(item: pytest.Item) -> list[str]:
    path = Path(str(item.fspath))
    name = f"{path.name}::{getattr(item, 'originalname', item.name)}"
    fixtures = set(getattr(item, "fixturenames", ()))
    found = []
    if TESTS / "chaos" in path.parents:
        found.append("chaos")
    if path.name in DESKTOP_FILES:
        found.append("desktop")
    if fixtures & E2E_FIXTURES or path.name in E2E_FILES:
        found.append("e2e")
    elif not fixtures - HARMLESS_FIXTURES:
        found.append("unit")
    else:
        found.append("integration")
    if path.name in SLOW_FILES or fixtures & SLOW_FIXTURES or name in SLOW_TESTS:
        found.append("slow")
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in markers_for(item):
            item.add_marker(getattr(pytest.mark, marker))
