"""show_config: what this installation was built with and runs on."""

import weightnoise as wn


def test_show_config_reports_the_loaded_variant_and_prints_it(capsys):
    config = wn.show_config()
    printed = capsys.readouterr().out
    for key in ("weightnoise", "variant", "available_variants", "compile_flags", "simd", "eigen", "cpu_level",
                "threads"):
        assert key in config and key in printed
    assert config["variant"] in config["available_variants"]
    assert config["eigen"].startswith("3.4")
    assert config["threads"] == wn.get_num_threads() >= 1
    assert wn.show_config(print_out=False) == config and capsys.readouterr().out == ""
