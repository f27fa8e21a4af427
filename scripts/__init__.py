"""Scripts run by hand or by CI (test.sh); a package so that core_only is found first."""
