# nbgrader settings for grading dl101's exercises. The instructor copies are the chapters in solutions/:
# each exercise is an answer cell (solution) followed by a locked, graded test cell with points, whose
# hidden tests nbgrader removes from the learner's copy and restores when it autogrades.
#
#   cp grading/nbgrader_config.py my-course/ && cd my-course
#   mkdir -p source/ch07 && cp ../solutions/07_variational_autoencoder.ipynb source/ch07/
#   nbgrader generate_assignment ch07        # release/ch07/: the learner copy (as in notebooks/)
#   nbgrader autograde ch07                  # grades submitted/<student>/ch07/*.ipynb
#
# The learner copies in notebooks/ are what generate_assignment writes (a test checks it), so learners
# may also start from those.
c = get_config()  # noqa: F821 (nbgrader provides get_config)
c.CourseDirectory.course_id = "dl101"
# The same placeholder as the learner copies in notebooks/.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Exercise: replace this line with your solution")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# At full settings a chapter trains its models while it is graded: allow 30 minutes a cell.
c.ExecutePreprocessor.timeout = 1800
