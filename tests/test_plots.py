"""Plots of the summary: titles, axes, legends, ticks (on hand-made run records)."""


from sksubset.experiments.plots import (
    describe_runs,
    log_ticks,
    plot_accuracy_time,
    plot_speedup_error,
    write_plots,
)
from sksubset.experiments.report import summarize


def test_log_ticks_are_plain_numbers_where_the_points_are():
    assert log_ticks(0.17, 5.0) == [0.2, 0.5, 1, 2, 5]
    assert log_ticks(1.0, 20.0) == [1, 2, 5, 10, 20]
    assert log_ticks(40.0, 130.0) == [50, 70, 100]  # too narrow for 1-2-5: finer steps


def _legend(fig):
    return [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else []


def test_plots_name_data_model_T_budget_and_define_the_y_axis(records, tmp_path):
    for r in records:
        r["settings"] = {"dataset": "digits", "model": "mlp", "T": 10}
    title = describe_runs(records)
    assert title == "digits, mlp, T = 10"
    rows = summarize(records)
    fig = plot_speedup_error(rows, tmp_path / "s.png", title)
    assert fig.get_suptitle() == "digits, mlp, T = 10: speedup versus relative test error"
    assert [ax.get_title() for ax in fig.axes] == ["budget 0.1", "budget 0.3"]
    assert fig.get_supxlabel().startswith("relative test error = 100 x (test error - test error "
                                          "of full training) / test error of full training")
    assert _legend(fig)[1:] == ["gradmatch", "random", "random-warm"]
    fig = plot_accuracy_time(records, rows, tmp_path / "a.png", title)
    assert fig.get_suptitle() == ("digits, mlp, T = 10, budgets 0.1, 0.3: test accuracy versus "
                                  "wall-clock")


def test_legends_show_only_what_is_drawn(records, tmp_path):
    subset_only = [r for r in records if r["strategy"] == "gradmatch" and r["budget"] == 0.1]
    rows = summarize(subset_only)
    # no full training: no frontier, and no speedup or relative error to draw
    assert _legend(plot_speedup_error(rows, tmp_path / "s.png")) == []
    assert _legend(plot_accuracy_time(subset_only, rows, tmp_path / "a.png")) == [
        "gradmatch", "budget 0.1"]


def test_the_time_axis_names_the_clock(records, tmp_path):
    wall = plot_accuracy_time(records, summarize(records), str(tmp_path / "a.png"))
    assert wall.axes[0].get_xlabel().startswith("wall-clock seconds")
    for r in records:
        r["settings"] = {"clock": "cpu"}
    cpu = plot_accuracy_time(records, summarize(records), str(tmp_path / "b.png"))
    assert cpu.axes[0].get_xlabel().startswith("CPU seconds")
    assert "versus CPU time" in cpu.get_suptitle()


def test_write_plots(records, tmp_path):
    paths = write_plots(records, summarize(records), str(tmp_path))
    assert set(paths) == {"speedup_plot", "accuracy_plot"}
    for path in paths.values():
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
