"""The command line speaks Japanese, click's own words included, whatever the
environment's language (Windows sets none)."""

import pytest


@pytest.mark.parametrize(("args", "words"), [
    (["--help"], ["使い方:", "オプション", "コマンド", "このヘルプを表示して終了します。"]),
    (["status", "--help"], ["使い方:", "status [OPTIONS]", "終了した契約も表に含めます。", "既定"]),
    (["stat"], ["エラー:", "'stat' というコマンドはありません。", "'status' のことですか？"]),
    (["status", "--bogus"], ["'--bogus' というオプションはありません。"]),
    (["parse", "no-such-page.html"], ["'no-such-page.html' がありません。"]),
    (["status", "--at"], ["オプション '--at' には値が必要です。"]),
])
def test_clicks_own_words_are_japanese(ghostwatch, args, words):
    run = ghostwatch(*args)
    output = run.stdout + run.stderr
    for word in words:
        assert word in output, output
    for english in ("Usage:", "Show this message", "No such", "does not exist", "Error:"):
        assert english not in output, output


def test_option_help_fits_its_column(ghostwatch):
    # Metavars stay ASCII so that click's help columns line up.
    run = ghostwatch("ingest", "--help")
    assert "--db PATH" in run.stdout and "--responses FILE" in run.stdout
