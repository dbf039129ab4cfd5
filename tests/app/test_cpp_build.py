"""The C++ vs Python page says which OpenFace build made the C++ trace; 'auto' compares with that
build, a pinned build stays and is reported as not matching."""

from .conftest import new_app, no_exception

PAGE = "pages/compare.py"


def texts(at) -> str:
    return " ".join(m.value for m in list(at.success) + list(at.warning) + list(at.info) + list(at.error))


def test_each_bundled_build_is_attributed_and_auto_compares_bit_for_bit():
    at = new_app(PAGE, image="grace_hopper.jpg")
    no_exception(at)
    assert "matches OpenFace built for AVX-512 CPUs" in texts(at)
    assert "agree bit for bit at every stage" in texts(at)
    at.radio(key="cpp_bundled_build").set_value("avx2").run()
    no_exception(at)
    assert "matches OpenFace built for AVX2 CPUs" in texts(at)
    assert "agree bit for bit at every stage" in texts(at)  # auto switched to the AVX2 run
    assert "compares with the port run as the AVX2 build" in texts(at)


def test_a_pinned_build_stays_and_shows_the_difference():
    at = new_app(PAGE, image="grace_hopper.jpg")
    at.sidebar.selectbox(key="cpp_build").set_value("avx512").run()
    at.radio(key="cpp_bundled_build").set_value("avx2").run()
    no_exception(at)
    assert "matches OpenFace built for AVX2 CPUs" in texts(at)
    assert "compares with the port run as the AVX-512 build" in texts(at)
    assert "agree bit for bit" not in texts(at)
    assert "within tolerance" in texts(at)
