"""Build small solution notebooks in tests, in the course's nbgrader-compatible format."""

import nbformat


def make_answer_cell(grade_id: str, source: str, cell_type: str = "code"):
    cell = nbformat.v4.new_code_cell(source) if cell_type == "code" else nbformat.v4.new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": True,
                                 "locked": False, "grade_id": grade_id}
    return cell


def make_tests_cell(grade_id: str, source: str, points=1):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": False,
                                 "locked": True, "grade_id": grade_id, "points": points}
    return cell


def make_manual_cell(grade_id: str, source: str, points=1):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": True,
                                 "locked": False, "grade_id": grade_id, "points": points}
    return cell


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    return nb


def good_notebook():
    """A valid two-exercise notebook with a markdown answer and hidden tests."""
    return notebook(
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("from cnncourse.grading import check"),
        make_answer_cell("square", "def square(x):\n    ### BEGIN SOLUTION\n    result = x * x\n    return result\n    ### END SOLUTION"),
        make_tests_cell("test_square", "check.equal(square(3), 9, 'square(3)')\n### BEGIN HIDDEN TESTS\n"
                             "check.equal(square(-4), 16, 'square(-4)')\n### END HIDDEN TESTS", points=2),
        make_manual_cell("why", "Why?\n\n### BEGIN SOLUTION\nBecause squares are never negative.\n### END SOLUTION"),
    )
