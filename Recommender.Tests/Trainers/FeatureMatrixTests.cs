using Recommender.Trainers.Training;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class FeatureMatrixTests
{
    [TestMethod]
    public void FromArraysPacksRowsAndMasksUnratedRows()
    {
        var m = FeatureMatrix.FromArrays(3, 2, 1, [1, 2, 3, 4, 0, 5], [0.5f, -1f, 2f], [[1, 0, 1], [1, 0, 0], [4, float.NaN, 2]]);
        Assert.AreEqual(3, m.Rows);
        CollectionAssert.AreEqual(new[] { 3, 4 }, m.Ids(1).ToArray());
        CollectionAssert.AreEqual(new[] { 0, 5 }, m.Ids(2).ToArray());
        Assert.AreEqual(-1f, m.Dense(1)[0]);
        // Labels, then their masks.
        CollectionAssert.AreEqual(new float[] { 1, 1, 4, 1, 1, 1 }, m.LabelsOf(0).ToArray());
        CollectionAssert.AreEqual(new float[] { 0, 0, 0, 1, 1, 0 }, m.LabelsOf(1).ToArray(), "a NaN rating is stored as 0 with mask 0");
        CollectionAssert.AreEqual(new float[] { 1, 0, 2, 1, 1, 1 }, m.LabelsOf(2).ToArray());
        CollectionAssert.AreEqual(new float[] { 1, 0, 1 }, m.LabelColumn(0));
        CollectionAssert.AreEqual(new float[] { 4, float.NaN, 2 }, m.LabelColumn(2), "a missing label reads back as NaN");
        Assert.IsTrue(m.HasLabel(0) && m.HasLabel(1) && m.HasLabel(2));

        var unlabeled = FeatureMatrix.FromArrays(1, 1, 0, [7], [], [null, null]);
        Assert.IsFalse(unlabeled.HasLabel(0) || unlabeled.HasLabel(1));
        CollectionAssert.AreEqual(new float[] { 0, 0, 0, 0 }, unlabeled.LabelsOf(0).ToArray());
    }

    [TestMethod]
    public void FromArraysRejectsMismatchedLengths()
    {
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => FeatureMatrix.FromArrays(2, 2, 0, [1, 2, 3], [], [])).Message, "expected rows x fields = 4");
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => FeatureMatrix.FromArrays(2, 1, 1, [1, 2], [0f], [])).Message, "expected rows x denseSize = 2");
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => FeatureMatrix.FromArrays(2, 1, 0, [1, 2], [], [[1f]])).Message, "label 0 has 1 values");
    }
}
